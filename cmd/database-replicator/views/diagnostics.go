package views

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/database-replicator/database-replicator/lang/diag"
)

// DiagnosticsView shows a list of diagnostics: every one of them, errors
// first and then warnings, each group in its original order, so that a
// warning is never shown in place of an error. Render writes nothing for an
// empty list in the human form.
type DiagnosticsView interface {
	Render(ds diag.Diagnostics) error
}

// HumanDiagnostics renders diagnostics for a terminal: the severity and
// summary, the address ("  on replication.main") when there is no source
// range, the range as "  --> file:line:column" with the offending source
// line and a marker under the range, then the detail and the fix, each line
// indented by two spaces; a blank line separates diagnostics.
type HumanDiagnostics struct {
	W io.Writer
	// Color paints the severity and summary with ANSI escapes.
	Color bool
	// Sources maps file names to their content, for the source snippet; a
	// file not in it is read with ReadFile (os.ReadFile when nil), and a
	// file that cannot be read is shown without snippet.
	Sources  map[string][]byte
	ReadFile func(name string) ([]byte, error)
}

// Render implements DiagnosticsView.
func (v HumanDiagnostics) Render(ds diag.Diagnostics) error {
	read := v.ReadFile
	if read == nil {
		read = os.ReadFile
	}
	cache := map[string][]byte{}
	source := func(name string) []byte {
		if src, ok := v.Sources[name]; ok {
			return src
		}
		if src, ok := cache[name]; ok {
			return src
		}
		src, err := read(name)
		if err != nil {
			src = nil
		}
		cache[name] = src
		return src
	}
	bw := bufio.NewWriter(v.W)
	for i, d := range ds.ErrorsFirst() {
		if i > 0 {
			bw.WriteString("\n")
		}
		writeHumanDiagnostic(bw, d, source, v.Color)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write diagnostics: %w", err)
	}
	return nil
}

func writeHumanDiagnostic(w *bufio.Writer, d diag.Diagnostic, source func(string) []byte, color bool) {
	sev, paint := "Error", "\x1b[1;31m"
	if d.Severity == diag.Warning {
		sev, paint = "Warning", "\x1b[1;33m"
	}
	if color {
		fmt.Fprintf(w, "%s%s\x1b[0m: \x1b[1m%s\x1b[0m\n", paint, sev, d.Summary)
	} else {
		fmt.Fprintf(w, "%s: %s\n", sev, d.Summary)
	}
	if d.Address != "" && d.Range == nil {
		fmt.Fprintf(w, "  on %s\n", d.Address)
	}
	if r := d.Range; r != nil {
		fmt.Fprintf(w, "  --> %s\n", r)
		if line, ok := sourceLine(source(r.Filename), r.Start.Line); ok {
			num := strconv.Itoa(r.Start.Line)
			pad := strings.Repeat(" ", len(num))
			fmt.Fprintf(w, "  %s |\n", pad)
			fmt.Fprintf(w, "  %s | %s\n", num, strings.ReplaceAll(line, "\t", " "))
			start := utf8.RuneCountInString(prefixBytes(line, r.Start.Column-1))
			width := 1
			if r.End.Line == r.Start.Line && r.End.Column > r.Start.Column {
				width = utf8.RuneCountInString(prefixBytes(line, r.End.Column-1)) - start
			}
			width = max(width, 1)
			fmt.Fprintf(w, "  %s | %s%s\n", pad, strings.Repeat(" ", start), strings.Repeat("^", width))
		}
	}
	for _, text := range []string{d.Detail, d.Fix} {
		if text == "" {
			continue
		}
		for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
}

// sourceLine returns line n (1-based) of src without its newline.
func sourceLine(src []byte, n int) (string, bool) {
	if src == nil || n < 1 {
		return "", false
	}
	for i := 1; ; i++ {
		idx := bytes.IndexByte(src, '\n')
		if i == n {
			if idx < 0 {
				return strings.TrimRight(string(src), "\r"), true
			}
			return strings.TrimRight(string(src[:idx]), "\r"), true
		}
		if idx < 0 {
			return "", false
		}
		src = src[idx+1:]
	}
}

// prefixBytes returns the first n bytes of line, where n counts columns
// (which are characters); it is clamped to the line.
func prefixBytes(line string, cols int) string {
	if cols <= 0 {
		return ""
	}
	i := 0
	for c := 0; c < cols && i < len(line); c++ {
		_, size := utf8.DecodeRuneInString(line[i:])
		i += size
	}
	return line[:i]
}

// JSONDiagnostics renders diagnostics as one JSON object:
//
//	{"error_count": 1, "warning_count": 0, "diagnostics": [ {...}, ... ]}
//
// with the diagnostics errors first, each in diag.Diagnostic's JSON form
// (severity, code, summary, detail, address, range, fix).
type JSONDiagnostics struct {
	W io.Writer
}

// jsonDiagnostics is the JSON document JSONDiagnostics writes.
type jsonDiagnostics struct {
	ErrorCount   int              `json:"error_count"`
	WarningCount int              `json:"warning_count"`
	Diagnostics  diag.Diagnostics `json:"diagnostics"`
}

// Render implements DiagnosticsView.
func (v JSONDiagnostics) Render(ds diag.Diagnostics) error {
	doc := jsonDiagnostics{
		ErrorCount:   len(ds.Errors()),
		WarningCount: len(ds.Warnings()),
		Diagnostics:  ds.ErrorsFirst(),
	}
	if doc.Diagnostics == nil {
		doc.Diagnostics = diag.Diagnostics{}
	}
	if err := writeIndentedJSON(v.W, doc); err != nil {
		return fmt.Errorf("write diagnostics: %w", err)
	}
	return nil
}
