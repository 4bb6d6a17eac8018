package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/database-replicator/database-replicator/providers/postgres/syncloop"
)

// daemonChildArg is the only argument of a background sync process; its
// real arguments arrive as JSON on stdin, so that a URL with a password
// given on the command line never shows in the process list.
const daemonChildArg = "__sync-daemon"

// daemonDir is where the background sync keeps its log and pid file.
func daemonDir() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("sync --daemon needs a home directory for ~/.database-replicator: %w", err)
	}
	return filepath.Join(home, ".database-replicator"), nil
}

// daemonPaths returns the log and pid file paths.
func daemonPaths() (logPath, pidPath string, err error) {
	dir, err := daemonDir()
	if err != nil {
		return "", "", err
	}
	return filepath.Join(dir, "sync.log"), filepath.Join(dir, "sync.pid"), nil
}

// daemonPID reads the pid file; running is false for a missing file, a
// dead process or a process that is not a background sync.
func daemonPID() (pid int, running bool, err error) {
	_, pidPath, err := daemonPaths()
	if err != nil {
		return 0, false, err
	}
	b, err := os.ReadFile(pidPath)
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, false, fmt.Errorf("%s holds %q, not a pid: remove it", pidPath, b)
	}
	return pid, processIsDaemon(pid), nil
}

// processIsDaemon reports whether pid is a live background sync.
func processIsDaemon(pid int) bool {
	if pid <= 0 || !processAlive(pid) {
		return false
	}
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			return false // exited, not yet reaped
		}
	}
	if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil {
		return bytes.Contains(cmdline, []byte(daemonChildArg))
	}
	return true
}

// daemonStart starts this sync command again in the background.
func (a *app) daemonStart() error {
	logPath, pidPath, err := daemonPaths()
	if err != nil {
		return err
	}
	if pid, running, err := daemonPID(); err != nil {
		return err
	} else if running {
		return fmt.Errorf("sync --daemon: a background sync already runs (pid %d): stop it with `database-replicator sync --stop` first", pid)
	}
	if err := os.MkdirAll(filepath.Dir(logPath), 0o700); err != nil {
		return fmt.Errorf("sync --daemon: %w", err)
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("sync --daemon: open the log: %w", err)
	}
	defer logFile.Close()
	var args []string
	for _, arg := range a.args {
		if arg != "--daemon" {
			args = append(args, arg)
		}
	}
	payload, err := json.Marshal(args)
	if err != nil {
		return err
	}
	exe, err := selfPath()
	if err != nil {
		return fmt.Errorf("sync --daemon: find this program: %w", err)
	}
	cmd := exec.Command(exe, daemonChildArg)
	cmd.Stdin = bytes.NewReader(payload)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = detachAttr()
	fmt.Fprintf(logFile, "\n--- %s: background sync starting\n", time.Now().Format(time.RFC3339))
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("sync --daemon: start: %w", err)
	}
	if err := os.WriteFile(pidPath, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o600); err != nil {
		_ = cmd.Process.Kill()
		return fmt.Errorf("sync --daemon: write %s: %w", pidPath, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		_ = os.Remove(pidPath)
		return fmt.Errorf("sync --daemon: the background sync exited at once (%v); its log %s ends with:\n%s", err, logPath, tail(logPath, 15))
	case <-time.After(2 * time.Second):
	}
	fmt.Fprintf(a.io.stdout, "Sync runs in the background (pid %d).\nLog: %s\nStatus: database-replicator sync --daemon-status\nStop: database-replicator sync --stop\n", cmd.Process.Pid, logPath)
	return nil
}

// daemonState returns the daemon's paths and whether it runs.
func daemonState() (logPath, pidPath string, pid int, running bool, err error) {
	if logPath, pidPath, err = daemonPaths(); err != nil {
		return "", "", 0, false, err
	}
	pid, running, err = daemonPID()
	return logPath, pidPath, pid, running, err
}

// daemonStatus reports whether a background sync runs.
func (a *app) daemonStatus() error {
	logPath, _, pid, running, err := daemonState()
	if err != nil {
		return err
	}
	if !running {
		if pid != 0 {
			return &exitError{code: 1, err: fmt.Errorf("no background sync is running (the pid file names %d, which has exited; its log: %s)", pid, logPath)}
		}
		return &exitError{code: 1, err: errors.New("no background sync is running: start one with `database-replicator sync --daemon`")}
	}
	fmt.Fprintf(a.io.stdout, "Background sync is running (pid %d).\nLog: %s\n%s", pid, logPath, tail(logPath, 5))
	return nil
}

// daemonStop sends SIGTERM to the background sync and waits for it to
// finish its batch and exit.
func (a *app) daemonStop() error {
	_, pidPath, pid, running, err := daemonState()
	if err != nil {
		return err
	}
	if !running {
		_ = os.Remove(pidPath)
		fmt.Fprintln(a.io.stdout, "No background sync is running.")
		return nil
	}
	if err := terminate(pid); err != nil {
		return fmt.Errorf("sync --stop: signal pid %d: %w", pid, err)
	}
	deadline := time.Now().Add(syncloop.DefaultStopGrace + 10*time.Second)
	for processIsDaemon(pid) {
		if time.Now().After(deadline) {
			return fmt.Errorf("sync --stop: pid %d is still running after %s: see its log, or kill it", pid, syncloop.DefaultStopGrace+10*time.Second)
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = os.Remove(pidPath)
	fmt.Fprintf(a.io.stdout, "Background sync stopped (pid %d).\n", pid)
	return nil
}

// daemonArgs reads the arguments of a background sync from stdin.
func daemonArgs(stdin io.Reader) ([]string, error) {
	var args []string
	if err := json.NewDecoder(stdin).Decode(&args); err != nil {
		return nil, fmt.Errorf("background sync: read arguments: %w", err)
	}
	return args, nil
}

// removeOwnPIDFile removes the pid file when it names this process.
func removeOwnPIDFile() {
	_, pidPath, err := daemonPaths()
	if err != nil {
		return
	}
	if b, err := os.ReadFile(pidPath); err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(os.Getpid()) {
		_ = os.Remove(pidPath)
	}
}

// tail returns the last n lines of a file ("" when unreadable).
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}

// selfPath is the program to start again: how it was invoked (looked up
// in PATH when it is a bare name), else the running executable.
func selfPath() (string, error) {
	if name := os.Args[0]; name != "" {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return os.Executable()
}
