package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestConfirm pins the two questions: Terraform's "yes" for apply and
// destroy, the predecessor's [y/N] for init; --no-interactive and a missing
// terminal refuse without reading an answer.
func TestConfirm(t *testing.T) {
	cases := []struct {
		name        string
		style       confirmStyle
		tty, noInt  bool
		answer      string
		ok          bool
		wantPrompt  string
		wantMessage string
	}{
		{"yes accepted", confirmYes, true, false, "yes\n", true, "Only 'yes' will be accepted", ""},
		{"y is not yes", confirmYes, true, false, "y\n", false, "Only 'yes'", "apply cancelled"},
		{"predecessor y", confirmYN, true, false, "y\n", true, "[y/N]", ""},
		{"predecessor YES", confirmYN, true, false, "YES\n", true, "[y/N]", ""},
		{"predecessor default no", confirmYN, true, false, "\n", false, "[y/N]", "apply cancelled"},
		{"no terminal", confirmYes, false, false, "yes\n", false, "", "run it in a terminal, or pass --auto-approve"},
		{"no-interactive", confirmYN, true, true, "y\n", false, "", "--no-interactive forbids asking: pass --auto-approve"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			a := &app{io: &ioEnv{stdin: strings.NewReader(c.answer), stdout: &out, stdinTTY: c.tty}, global: &Globals{NoInteractive: c.noInt}}
			err := a.confirm("apply", "--auto-approve", c.style)
			if (err == nil) != c.ok {
				t.Fatalf("confirm = %v, want ok=%v", err, c.ok)
			}
			if c.wantMessage != "" && !strings.Contains(err.Error(), c.wantMessage) {
				t.Errorf("error %q lacks %q", err, c.wantMessage)
			}
			if !strings.Contains(out.String(), c.wantPrompt) {
				t.Errorf("prompt %q lacks %q", out.String(), c.wantPrompt)
			}
			if c.wantPrompt == "" && out.Len() > 0 {
				t.Errorf("asked %q although it must not", out.String())
			}
		})
	}
}
