package streamapply

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"

	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/snapshot"
)

// Config is what an Applier streams and where it applies it.
type Config struct {
	// Source is the source database holding the slot; the role needs the
	// REPLICATION attribute. Target is the target database; an ordinary
	// role that may write the tables (and create the progress table, or
	// find it created) is enough: the target never connects to the source.
	Source, Target conninfo.Info
	// Replication names the stream in the progress table.
	Replication string
	// Slot is the logical replication slot (pgoutput) created with the
	// copy's exported snapshot; streaming starts at its consistent point.
	Slot string
	// Publications are the publications the slot streams.
	Publications []string
	// Remap gives the target schema and table of a source table; nil keeps
	// the names.
	Remap func(schema, table string) (string, string)
	// NewColumns says what a source column that the target table lacks
	// gets (policy.on_schema_drift): NewColumnsFail (the default) stops
	// with an error naming it, NewColumnsIgnore leaves its values out,
	// NewColumnsAdd adds it to the target table (built-in types only),
	// unless the rows also lack a column of the target table (a rename
	// on the source): then it stops with an error naming both.
	NewColumns NewColumnPolicy
	// DDLLog is the source table of captured DDL statements
	// (policy.capture_ddl; zero for none). A trigger on its target copy
	// runs each statement as its row is inserted, inside the group; a
	// source transaction that writes it ends its group, so that what
	// follows finds the statement committed (a new enum value cannot be
	// used in the transaction that added it).
	DDLLog TableName
	// SpoolDir holds the temporary files of large streamed transactions
	// ("" for the system's temporary directory).
	SpoolDir string
	// Log receives reconnects and notices; nil discards them.
	Log hclog.Logger

	// MaxGroupChanges and MaxGroupDelay bound one target transaction: after
	// a source commit, the group commits once it holds that many changes or
	// is that old (defaults 20000 and 250ms). A group also commits as soon
	// as nothing more is waiting on the replication connection: at the
	// tip of the stream each transaction commits about a round trip after
	// it arrives, and while changes keep coming (a burst, a catch-up) what
	// arrives during one commit makes the next group.
	MaxGroupChanges int
	MaxGroupDelay   time.Duration
	// StatusInterval is how often the flushed position is reported to the
	// source without being asked (default 10s; keep it below the source's
	// wal_sender_timeout, 60s by default: the source also asks when it
	// needs one).
	StatusInterval time.Duration
	// MaxBackoff caps the wait between reconnects (default 30s).
	MaxBackoff time.Duration
}

// NewColumnPolicy says what happens to a source column the target lacks.
type NewColumnPolicy int

// What a source column the target lacks gets.
const (
	NewColumnsFail NewColumnPolicy = iota
	NewColumnsIgnore
	NewColumnsAdd
)

// Stats describe an Applier's progress.
type Stats struct {
	// Connected is true while both connections are up.
	Connected bool
	// ReceivedLSN is the last WAL position received from the source.
	ReceivedLSN pglogrepl.LSN
	// SourceLSN is the position the source last said it had decoded up
	// to (its keepalives).
	SourceLSN pglogrepl.LSN
	// Idle is true when everything received has been committed on the
	// target (no source transaction or target group open): with SourceLSN
	// it tells that the target is caught up to that position.
	Idle bool
	// AppliedLSN is the end LSN of the last source transaction the target
	// committed (also the flushed position reported to the source).
	AppliedLSN pglogrepl.LSN
	// LastCommitTime is the source commit time of that transaction.
	LastCommitTime time.Time
	// Transactions and Rows count the source transactions and row changes
	// applied since the Applier started.
	Transactions, Rows int64
	// MissingRows counts updates and deletes that found no row on the
	// target (skipped, as PostgreSQL's own apply does).
	MissingRows int64
	// StreamedTransactions counts large transactions received while in
	// progress and spooled.
	StreamedTransactions int64
	// Statements counts the statements sent to the target (BEGIN, COMMIT,
	// the progress row and statements prepared included) and Batches the
	// Syncs that ended them (a group's last one with its COMMIT, read when
	// the next group commits or nothing more arrives): with Transactions,
	// the cost per source transaction.
	Statements, Batches int64
	// Reconnects counts the sessions that ended on a lost connection.
	Reconnects int64
	// LastError is the error that ended the last session, if any.
	LastError string
}

// Applier streams one slot's changes to the target. Run it once; read
// Stats from any goroutine.
type Applier struct {
	cfg Config
	log hclog.Logger

	mu    sync.Mutex
	stats Stats

	// holdFeedback, set by tests, reports no flushed position to the
	// source, so that a restart is sent transactions the target has
	// already committed.
	holdFeedback bool
	// startAtSlot, set by tests, starts streaming at the slot's confirmed
	// position instead of the stored one, so that the source sends
	// transactions the target has: the applier itself must skip them.
	startAtSlot bool
	// idleWait, set by tests, keeps a group open until nothing more has
	// arrived for this long (and MaxGroupChanges and MaxGroupDelay allow),
	// instead of committing it as soon as nothing is waiting: changes
	// committed on the source before the applier starts are then grouped.
	idleWait time.Duration
}

// New checks cfg and returns an Applier.
func New(cfg Config) (*Applier, error) {
	if !cfg.Source.Valid() || !cfg.Target.Valid() {
		return nil, errors.New("stream apply: the source and the target are required")
	}
	if cfg.Replication == "" {
		return nil, errors.New("stream apply: the replication name is required")
	}
	if err := snapshot.ValidateSlotName(cfg.Slot); err != nil {
		return nil, fmt.Errorf("stream apply: %w", err)
	}
	if len(cfg.Publications) == 0 {
		return nil, errors.New("stream apply: at least one publication is required")
	}
	if cfg.MaxGroupChanges <= 0 {
		cfg.MaxGroupChanges = 20000
	}
	if cfg.MaxGroupDelay <= 0 {
		cfg.MaxGroupDelay = 250 * time.Millisecond
	}
	if cfg.StatusInterval <= 0 {
		cfg.StatusInterval = 10 * time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	log := cfg.Log
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Applier{cfg: cfg, log: log}, nil
}

// Stats returns a copy of the current statistics.
func (a *Applier) Stats() Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stats
}

func (a *Applier) update(fn func(*Stats)) {
	a.mu.Lock()
	fn(&a.stats)
	a.mu.Unlock()
}

// Run streams and applies until ctx ends (it then returns ctx's error). A
// lost connection to either side is reopened with exponential backoff (1s
// doubling up to MaxBackoff); every other error ends Run. On Linux it first
// moves the process's threads to SCHED_BATCH (see batchScheduling).
func (a *Applier) Run(ctx context.Context) error {
	if err := batchScheduling(); err != nil {
		a.log.Debug("stream apply: threads keep the default scheduling policy", "error", err)
	}
	backoff := time.Second
	for {
		started := time.Now()
		err := a.session(ctx)
		a.update(func(s *Stats) {
			s.Connected = false
			if err != nil {
				s.LastError = err.Error()
			}
		})
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil || !conninfo.ConnectionLost(err) {
			return err
		}
		if time.Since(started) > 2*a.cfg.MaxBackoff {
			backoff = time.Second // the session ran for a while: start over
		}
		a.update(func(s *Stats) { s.Reconnects++ })
		a.log.Warn("stream apply: connection lost; reconnecting", "replication", a.cfg.Replication, "in", backoff, "error", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, a.cfg.MaxBackoff)
	}
}

// sessionSettings make the text format of values unambiguous between the
// source's walsender and the target session (as the copy does).
var sessionSettings = map[string]string{
	"DateStyle":          "ISO, YMD",
	"IntervalStyle":      "postgres",
	"extra_float_digits": "3",
	"TimeZone":           "UTC",
}

// connectTarget opens the target session the changes are applied on.
func (a *Applier) connectTarget(ctx context.Context) (*pgx.Conn, error) {
	cfg, err := a.cfg.Target.ConnConfig()
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	for k, v := range sessionSettings {
		cfg.RuntimeParams[k] = v
	}
	cfg.RuntimeParams["statement_timeout"] = "0"
	cfg.RuntimeParams["application_name"] = "database-replicator stream " + a.cfg.Replication
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("target: %w", conninfo.ClassifyConnectError(a.cfg.Target, err))
	}
	// As PostgreSQL's own apply does, keep ordinary triggers and foreign
	// key checks from firing for replicated rows, where the role may
	// (superuser); otherwise they fire (source order keeps keys valid).
	if _, err := conn.Exec(ctx, "SET session_replication_role = replica"); err != nil {
		if conninfo.ErrCode(err) != "42501" {
			conn.Close(context.Background())
			return nil, fmt.Errorf("target: %w", err)
		}
		a.log.Debug("stream apply: session_replication_role not settable; triggers fire on the target", "replication", a.cfg.Replication)
	}
	return conn, nil
}

// startOptions are the pgoutput arguments for a source of version num.
func (a *Applier) startOptions(num int) []string {
	names := make([]string, len(a.cfg.Publications))
	for i, p := range a.cfg.Publications {
		names[i] = pgx.Identifier{p}.Sanitize()
	}
	opts := []string{"publication_names " + conninfo.QuoteLiteral(strings.Join(names, ","))}
	if num >= 140000 {
		opts = append(opts, "proto_version '2'", "streaming 'on'")
	} else {
		opts = append(opts, "proto_version '1'")
	}
	return opts
}

// serverVersionNum parses a server_version parameter ("15.4", "14beta1",
// "16.1 (Debian …)") into a version number such as 150004.
func serverVersionNum(v string) int {
	major, rest, _ := strings.Cut(v, ".")
	n := 0
	for _, r := range major {
		if r < '0' || r > '9' {
			break
		}
		n = n*10 + int(r-'0')
	}
	minor := 0
	for _, r := range rest {
		if r < '0' || r > '9' {
			break
		}
		minor = minor*10 + int(r-'0')
	}
	return n*10000 + minor
}

// lsnText renders an LSN for a pg_lsn parameter.
func lsnText(l pglogrepl.LSN) []byte { return []byte(l.String()) }

// int64Text renders an integer parameter.
func int64Text(n int64) []byte { return []byte(strconv.FormatInt(n, 10)) }
