package views

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/database-replicator/database-replicator/state"
)

// writeIndentedJSON prints v as two-space indented JSON and a newline.
func writeIndentedJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode JSON: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// StateEntry renders one state entry for `state show` as indented JSON.
func StateEntry(w io.Writer, r *state.Resource) error { return writeIndentedJSON(w, r) }
