package pgtest

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"
)

// runAs is the OS account the server runs as: "postgres" when the tests run
// as root, the current user otherwise (cred == nil).
type runAs struct {
	cred     *syscall.Credential
	uid, gid int
}

// serverOwner picks the account the server processes run as.
func serverOwner() (runAs, error) {
	if os.Geteuid() != 0 {
		return runAs{uid: os.Geteuid(), gid: os.Getegid()}, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return runAs{}, fmt.Errorf("running as root needs the \"postgres\" system user to run the server (initdb refuses root; apt-get install postgresql creates it): %w", err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return runAs{}, fmt.Errorf("uid of postgres: %w", err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return runAs{}, fmt.Errorf("gid of postgres: %w", err)
	}
	return runAs{
		cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)},
		uid:  uid, gid: gid,
	}, nil
}

// chown gives path to the server account (a no-op when not root).
func (o runAs) chown(path string) error {
	if o.cred == nil {
		return nil
	}
	if err := os.Lchown(path, o.uid, o.gid); err != nil {
		return fmt.Errorf("chown %s to postgres: %w", path, err)
	}
	return nil
}

// mkdir creates a 0700 directory owned by the server account.
func (o runAs) mkdir(path string) error {
	if err := os.Mkdir(path, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	return o.chown(path)
}

// childEnv is the environment for server binaries: ours without PG*
// variables, which would redirect initdb or postgres.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") {
			continue
		}
		env = append(env, kv)
	}
	return env
}
