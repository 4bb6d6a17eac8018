package lang

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// WriteDiagnostics prints each diagnostic as its severity and summary, the
// subject's file:line:column, the offending source line with a marker under
// the subject, and the detail (which says what to write instead). Sources
// maps file names to their content; a file not in it is read from disk.
func WriteDiagnostics(w io.Writer, diags hcl.Diagnostics, sources map[string][]byte, color bool) error {
	bw := bufio.NewWriter(w)
	cache := map[string][]byte{}
	source := func(name string) []byte {
		if src, ok := sources[name]; ok {
			return src
		}
		if src, ok := cache[name]; ok {
			return src
		}
		src, err := os.ReadFile(name)
		if err != nil {
			src = nil
		}
		cache[name] = src
		return src
	}
	for i, d := range diags {
		if i > 0 {
			bw.WriteString("\n")
		}
		writeDiagnostic(bw, d, source, color)
	}
	return bw.Flush()
}

// FormatDiagnostic renders one diagnostic's location as "file:line:col".
func FormatDiagnostic(d *hcl.Diagnostic) string {
	if d.Subject == nil {
		return ""
	}
	return fmt.Sprintf("%s:%d:%d", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
}

func writeDiagnostic(w *bufio.Writer, d *hcl.Diagnostic, source func(string) []byte, color bool) {
	sev, code := "Error", "\x1b[1;31m"
	if d.Severity == hcl.DiagWarning {
		sev, code = "Warning", "\x1b[1;33m"
	}
	if color {
		fmt.Fprintf(w, "%s%s\x1b[0m: \x1b[1m%s\x1b[0m\n", code, sev, d.Summary)
	} else {
		fmt.Fprintf(w, "%s: %s\n", sev, d.Summary)
	}
	if d.Subject != nil {
		fmt.Fprintf(w, "  --> %s\n", FormatDiagnostic(d))
		if line, ok := sourceLine(source(d.Subject.Filename), d.Subject.Start.Line); ok {
			num := strconv.Itoa(d.Subject.Start.Line)
			pad := strings.Repeat(" ", len(num))
			fmt.Fprintf(w, "  %s |\n", pad)
			fmt.Fprintf(w, "  %s | %s\n", num, strings.ReplaceAll(line, "\t", " "))
			start := utf8.RuneCountInString(prefixBytes(line, d.Subject.Start.Column-1))
			width := 1
			if d.Subject.End.Line == d.Subject.Start.Line && d.Subject.End.Column > d.Subject.Start.Column {
				width = utf8.RuneCountInString(prefixBytes(line, d.Subject.End.Column-1)) - start
			}
			if width < 1 {
				width = 1
			}
			fmt.Fprintf(w, "  %s | %s%s\n", pad, strings.Repeat(" ", start), strings.Repeat("^", width))
		}
	}
	if d.Detail != "" {
		for _, l := range strings.Split(strings.TrimRight(d.Detail, "\n"), "\n") {
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

// prefixBytes returns the first n bytes of line, where n counts HCL columns
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
