// Package dashboard is the agent's read-only web dashboard: one embedded
// HTML page with plain JavaScript (no build step) that reads the API with a
// read-scoped key given in the URL fragment (#key=..., never sent to the
// server) or typed in, and shows replications with their lag over time,
// jobs with their phases and logs.
package dashboard

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// Handler serves the dashboard's files.
func Handler() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return http.FileServerFS(sub)
}
