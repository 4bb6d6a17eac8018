package state

import (
	"fmt"
	"os"
	"os/user"
	"strings"
	"time"
)

// LockInfo describes the holder of a state lock.
type LockInfo struct {
	// ID identifies the lock, for force-unlock.
	ID string `json:"id"`
	// Operation is the command holding it: plan, apply, sync, destroy...
	Operation string `json:"operation"`
	// Who is user@host.
	Who string `json:"who"`
	// PID is the holder's process id.
	PID int `json:"pid"`
	// Host is the holder's host name.
	Host string `json:"host"`
	// Created is when the lock was taken.
	Created time.Time `json:"created"`
	// Version is the holder's database-replicator version.
	Version string `json:"version"`
}

// NewLockInfo describes the current process taking a lock for operation,
// with a fresh random ID.
func NewLockInfo(operation, version string) LockInfo {
	info := LockInfo{Operation: operation, Version: version}
	info.Fill()
	return info
}

// Fill sets the empty fields of info from the current process.
func (info *LockInfo) Fill() {
	if info.ID == "" {
		if id, err := NewLineage(); err == nil {
			info.ID = id
		} else {
			info.ID = fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano())
		}
	}
	if info.Host == "" {
		info.Host, _ = os.Hostname()
	}
	if info.PID == 0 {
		info.PID = os.Getpid()
	}
	if info.Who == "" {
		name := "unknown"
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
		info.Who = name + "@" + info.Host
	}
	if info.Operation == "" {
		info.Operation = "unknown operation"
	}
	if info.Created.IsZero() {
		info.Created = time.Now().UTC()
	}
}

// user returns the user part of Who.
func (info LockInfo) user() string {
	if i := strings.LastIndex(info.Who, "@"); i >= 0 {
		return info.Who[:i]
	}
	return info.Who
}

// LockedError reports that another run holds the state lock.
type LockedError struct {
	// Info describes the holder.
	Info LockInfo
	// Path is where the lock lives: the lock file, or the state_lock table.
	Path string
	// HolderGone is set when the holder ran on this host and its process
	// no longer exists: the lock is stale, left by a crash.
	HolderGone bool
}

// Error implements error.
func (e *LockedError) Error() string {
	i := e.Info
	holder := fmt.Sprintf("state is locked by %s (pid %d on host %s, user %s) since %s",
		i.Operation, i.PID, i.Host, i.user(), i.Created.Format(time.RFC3339))
	if e.HolderGone {
		return fmt.Sprintf("%s: the holder process is gone (it crashed or was killed), leaving the lock %s behind; "+
			"if no other database-replicator is running, run `database-replicator state force-unlock %s`",
			holder, e.Path, i.ID)
	}
	return fmt.Sprintf("%s: another database-replicator is running; wait for it, or if it crashed run "+
		"`database-replicator state force-unlock %s`", holder, i.ID)
}
