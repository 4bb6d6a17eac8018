package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
)

func TestZZScreens(t *testing.T) {
	if os.Getenv("ZZ_SCREENS") == "" {
		t.Skip()
	}
	src := pickerSource(t)
	src.Exec(t, "alpha", "CREATE TABLE metrics (id bigserial PRIMARY KEY, recorded_at timestamptz NOT NULL DEFAULT now(), value float8); INSERT INTO metrics (value) SELECT random() FROM generate_series(1, 20000); ANALYZE")
	dst := pgtest.Start(t)
	dir := t.TempDir()
	bin := buildBinary(t)
	envs := ptyEnv(t, dir)
	sess := "zz" + strings.ReplaceAll(t.Name(), "/", "")
	script := dir + "/run.sh"
	os.WriteFile(script, []byte("#!/bin/sh\ncd "+dir+"\nexport "+strings.Join(envs, " ")+" TERM=xterm-256color\n"+os.Getenv("ZZ_ENV")+" "+bin+" "+os.Getenv("ZZ_CMD")+" --source '"+src.URL("postgres")+"' --target '"+dst.URL("postgres")+"'\necho EXIT $?\nsleep 600\n"), 0o755)
	exec.Command("tmux", "new-session", "-d", "-s", sess, "-x", "110", "-y", "45", script).Run()
	defer exec.Command("tmux", "kill-session", "-t", sess).Run()
	n := 0
	capture := func() {
		time.Sleep(1500 * time.Millisecond)
		out, _ := exec.Command("tmux", "capture-pane", "-p", "-t", sess).Output()
		n++
		os.WriteFile("/tmp/tuidoc/screen"+string(rune('a'+n)), out, 0o644)
	}
	keys := strings.Split(os.Getenv("ZZ_KEYS"), ",")
	time.Sleep(5 * time.Second)
	capture()
	for _, k := range keys {
		if k == "CAP" {
			capture()
			continue
		}
		if strings.HasPrefix(k, "LIT:") {
			exec.Command("tmux", "send-keys", "-t", sess, "-l", k[4:]).Run()
		} else {
			exec.Command("tmux", "send-keys", "-t", sess, k).Run()
		}
		time.Sleep(400 * time.Millisecond)
	}
	capture()
}
