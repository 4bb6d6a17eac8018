// Package cutover switches the application from the source to the target
// of a logical replication: preflight, fence writes on the source, drain
// exactly to the position after the fence, sync the sequences, a final
// check, and detach the replication. Each phase's progress is recorded
// (through Input.Save) before it acts, so that a rerun after a crash
// completes the cutover or rolls it back; any failure before the detach
// unfences the source and leaves replication as it was.
package cutover

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
)

// Fence modes (--fence).
const (
	FenceAll  = "all"
	FenceNone = "none"
)

// Verify modes (--verify).
const (
	VerifyFull  = "full"
	VerifyQuick = "quick"
	VerifyNone  = "none"
)

// Phase names, in the order they run.
const (
	PhasePreflight = "preflight"
	PhaseFence     = "fence"
	PhaseDrain     = "drain"
	PhaseSequences = "sequences"
	PhaseVerify    = "verify"
	PhaseDetach    = "detach"
	PhaseRollback  = "rollback"
)

// Database is one database of one replication to cut over (logical,
// stream or xmin).
type Database struct {
	// Replication is the replication block's name; Name the database.
	Replication, Name string
	// Source and Target connect to the database on each side.
	Source, Target conninfo.Info
	// Publication and Slot are on the source; Subscription on the target.
	Publication, Slot, Subscription string
	// StoresPassword is whether the subscription's connection string
	// carries the source URL's password: the reverse subscription's then
	// carries the target URL's.
	StoresPassword bool
	// Record is the progress an earlier run recorded, nil for none.
	Record *plans.CutoverAttrs
	// Method is MethodXmin for a database the xmin engine syncs, "" for
	// logical replication (Publication, Slot and Subscription are then
	// empty).
	Method string
	// Tables are the xmin engine's tables of the database (xmin only).
	Tables []TableName
	// Forward is the forward replication a rollback re-establishes at its
	// detach (cutover --rollback); nil leaves the target read-only and
	// unreplicated.
	Forward *Forward
	// StaleAfter is the age from which the preflight calls the last xmin
	// cycle too old (xmin only; 0: any age).
	StaleAfter time.Duration
	// DDLCapture is whether the state records a DDL capture
	// (policy.capture_ddl) of the database: the detach removes it from
	// both sides (Input.DropDDLCapture) before anything else, so the old
	// primary records no more DDL and the new one replays none.
	DDLCapture bool
	// Remap gives a source table's schema and name on the target (stream
	// only; nil keeps the names): the quick check and the sequences use
	// it.
	Remap func(schema, table string) (string, string)
}

// Xmin reports whether the database is synced by the xmin engine.
func (d *Database) Xmin() bool { return d.Method == MethodXmin }

// Address names the database in messages, e.g. replication.main "shop".
func (d *Database) Address() string { return fmt.Sprintf("replication.%s %q", d.Replication, d.Name) }

// Options are the cutover's settings.
type Options struct {
	// MaxLag and MaxLagBytes bound the lag the preflight accepts.
	MaxLag      time.Duration
	MaxLagBytes int64
	// Fence is FenceAll or FenceNone.
	Fence string
	// Verify is VerifyFull, VerifyQuick or VerifyNone.
	Verify string
	// KeepSourceObjects leaves the slot and the publication on the source.
	KeepSourceObjects bool
	// Reverse sets up reverse replication at the detach: a publication
	// and a slot on the target, a subscription on the source.
	Reverse bool
	// DrainTimeout bounds the wait for the target to apply up to the
	// fence position (default 5 minutes).
	DrainTimeout time.Duration
}

// Input is what Run cuts over, and how it reports and records.
type Input struct {
	Databases []*Database
	Options   Options
	// Save records db's progress (nil attrs: forget it). The phase is
	// recorded before it acts on a server.
	Save func(ctx context.Context, db *Database, attrs *plans.CutoverAttrs) error
	// Forget is called once a database is cut over: the replication
	// objects it names no longer exist (kept is true when the slot and
	// publication were left on the source).
	Forget func(ctx context.Context, db *Database, kept bool) error
	// Reforwarded records, once a rollback re-established db's forward
	// replication, its publication, slot and subscription as apply would,
	// and forgets the cutover record.
	Reforwarded func(ctx context.Context, db *Database) error
	// DropDDLCapture removes the DDL capture of db (Database.DDLCapture)
	// from both sides: the source's event triggers, function and log, the
	// target's log and replay function. It tolerates an earlier run's
	// having done it.
	DropDDLCapture func(ctx context.Context, db *Database) error
	// XminDrain runs a final full xmin cycle of db, reconciliation
	// included, and describes it (xmin only).
	XminDrain func(ctx context.Context, db *Database) (string, error)
	// StreamDrain runs db's stream applier until it has applied the
	// source's WAL position of when it started, then stops it (stream
	// only).
	StreamDrain func(ctx context.Context, db *Database) error
	// FullCheck runs the verify machinery over the scope; it returns what
	// differs ("" when everything is equal).
	FullCheck func(ctx context.Context) (string, error)
	// OnPhase is told each phase as it ends.
	OnPhase func(PhaseResult)
	// AfterRecord is called after every recorded phase (a test kills the
	// process there).
	AfterRecord func(phase string)
	Log         hclog.Logger
}

// PhaseResult is one phase's outcome. Its JSON form is cutover --json's.
type PhaseResult struct {
	Name    string   `json:"name"`
	Seconds float64  `json:"seconds"`
	Details []string `json:"details,omitempty"`
}

// DatabaseReport is one database's outcome.
type DatabaseReport struct {
	Replication string `json:"replication"`
	Database    string `json:"database"`
	// FenceLSN is the source's WAL position after the fence; AppliedLSN
	// the slot's confirmed position the drain reached.
	FenceLSN   string `json:"fence_lsn,omitempty"`
	AppliedLSN string `json:"applied_lsn,omitempty"`
	Sequences  int    `json:"sequences"`
	// WritesAfterFence counts rows written to the published tables on the
	// source after the fence (a superuser, or a session that turned
	// default_transaction_read_only off).
	WritesAfterFence int64 `json:"writes_after_fence"`
	// Reverse names the reverse replication's objects (cutover
	// --reverse), nil without it.
	Reverse *ReverseReport `json:"reverse,omitempty"`
}

// ReverseReport names the reverse replication's objects.
type ReverseReport struct {
	// Publication and Slot are on the new primary (the former target).
	Publication string `json:"publication"`
	Slot        string `json:"slot"`
	// Subscription is on the old primary (the former source).
	Subscription string `json:"subscription"`
	// OriginNone is whether the subscription has origin = none
	// (PostgreSQL 16+).
	OriginNone bool `json:"origin_none"`
}

// Report is the cutover's outcome.
type Report struct {
	// Outcome is "completed", "rolled back" or "failed".
	Outcome string `json:"outcome"`
	// Rollback is true for a switch back (cutover --rollback).
	Rollback bool `json:"rollback,omitempty"`
	// Resumed is true when an earlier, interrupted run was continued.
	Resumed   bool             `json:"resumed,omitempty"`
	Phases    []PhaseResult    `json:"phases"`
	Databases []DatabaseReport `json:"databases"`
	// WriteUnavailableSeconds is the time from the fence until the target
	// was ready (detached); 0 when the cutover did not get that far.
	WriteUnavailableSeconds float64  `json:"write_unavailable_seconds"`
	Warnings                []string `json:"warnings,omitempty"`
	Error                   string   `json:"error,omitempty"`
}

// Outcomes of a cutover.
const (
	OutcomeCompleted  = "completed"
	OutcomeRolledBack = "rolled back"
	OutcomeFailed     = "failed"
)

// run is one cutover in progress.
type run struct {
	in      Input
	rep     *Report
	reports map[*Database]*DatabaseReport
	log     hclog.Logger
}

// Run cuts over every database of in. It returns the report and, when the
// cutover did not complete, an error saying what happened to both sides.
func Run(ctx context.Context, in Input) (*Report, error) {
	if in.Options.DrainTimeout <= 0 {
		in.Options.DrainTimeout = 5 * time.Minute
	}
	if in.Options.Fence == "" {
		in.Options.Fence = FenceAll
	}
	if in.Options.Verify == "" {
		in.Options.Verify = VerifyFull
	}
	r := &run{in: in, rep: &Report{}, reports: map[*Database]*DatabaseReport{}, log: in.Log}
	if r.log == nil {
		r.log = hclog.NewNullLogger()
	}
	for _, db := range in.Databases {
		dr := &DatabaseReport{Replication: db.Replication, Database: db.Name}
		r.reports[db] = dr
		if db.Record != nil {
			r.rep.Resumed = true
			dr.FenceLSN = db.Record.FenceLSN
		}
	}
	err := r.cutover(ctx)
	for _, db := range in.Databases {
		r.rep.Databases = append(r.rep.Databases, *r.reports[db])
	}
	if err != nil {
		r.rep.Error = err.Error()
	}
	return r.rep, err
}

// detaching reports whether an earlier run got to the detach: the
// cutover can then only be completed.
func (r *run) detaching() bool {
	for _, db := range r.in.Databases {
		if db.Record != nil && (db.Record.Phase == plans.CutoverDetaching || db.Record.Phase == plans.CutoverDone) {
			return true
		}
	}
	return false
}

// recorded reports whether any database has a cutover record (a fence
// may have begun).
func (r *run) recorded() bool {
	for _, db := range r.in.Databases {
		if db.Record != nil {
			return true
		}
	}
	return false
}

// cutover runs the phases; a failure before the detach rolls back.
func (r *run) cutover(ctx context.Context) error {
	if r.detaching() {
		r.log.Info("an earlier cutover reached the detach: completing it")
		var recorded []*Database
		for _, db := range r.in.Databases {
			if db.Record != nil {
				recorded = append(recorded, db)
			}
		}
		r.in.Databases = recorded
		return r.detach(ctx)
	}
	fail := func(err error) error {
		if !r.recorded() {
			r.rep.Outcome = OutcomeRolledBack
			return fmt.Errorf("%w\nnothing was changed: the source was not fenced and replication is as it was; fix the cause and run cutover again", err)
		}
		rbErr := r.rollback(err)
		if rbErr != nil {
			r.rep.Outcome = OutcomeFailed
			return fmt.Errorf("%w\nrolling back failed too: %v\nthe source may still be read-only and replication is untouched: run cutover again (it resumes or rolls back)", err, rbErr)
		}
		r.rep.Outcome = OutcomeRolledBack
		return fmt.Errorf("%w\nrolled back: the source accepts writes again and replication is as it was; fix the cause and run cutover again", err)
	}
	if err := r.phase(PhasePreflight, func(p *PhaseResult) error { return r.preflight(ctx, p) }); err != nil {
		return fail(err)
	}
	if err := r.phase(PhaseFence, func(p *PhaseResult) error { return r.fence(ctx, p) }); err != nil {
		return fail(err)
	}
	if err := r.phase(PhaseDrain, func(p *PhaseResult) error { return r.drain(ctx, p, plans.CutoverDrained) }); err != nil {
		return fail(err)
	}
	if err := r.phase(PhaseSequences, func(p *PhaseResult) error { return r.sequences(ctx, p, true) }); err != nil {
		return fail(err)
	}
	if err := r.phase(PhaseVerify, func(p *PhaseResult) error { return r.verify(ctx, p) }); err != nil {
		return fail(err)
	}
	if err := ctx.Err(); err != nil {
		return fail(fmt.Errorf("cutover interrupted before the detach: %w", err))
	}
	return r.detach(ctx)
}

// phase runs one phase, timing it and reporting it.
func (r *run) phase(name string, fn func(p *PhaseResult) error) error {
	start := time.Now()
	p := PhaseResult{Name: name}
	err := fn(&p)
	p.Seconds = time.Since(start).Seconds()
	if err != nil {
		p.Details = append(p.Details, "FAILED: "+err.Error())
	}
	r.rep.Phases = append(r.rep.Phases, p)
	if r.in.OnPhase != nil {
		r.in.OnPhase(p)
	}
	if err != nil {
		return fmt.Errorf("cutover %s: %w", name, err)
	}
	return nil
}

// record saves db's progress at phase.
func (r *run) record(ctx context.Context, db *Database, phase string) error {
	db.Record.Phase = phase
	if err := r.in.Save(ctx, db, db.Record); err != nil {
		return fmt.Errorf("record the cutover of %s in the state: %w", db.Address(), err)
	}
	if r.in.AfterRecord != nil {
		r.in.AfterRecord(phase)
	}
	return nil
}

// warn adds a warning to the report and the log.
func (r *run) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.rep.Warnings = append(r.rep.Warnings, msg)
	r.log.Warn(msg)
}

// connectSource opens a session on the source that may write even when
// the database is fenced (the tool's own session: the unfence, the
// publication's drop).
func connectSource(ctx context.Context, db *Database) (*pgConn, error) {
	conn, err := conninfo.Connect(ctx, db.Source)
	if err != nil {
		return nil, fmt.Errorf("connect to the source of %s: %w", db.Address(), err)
	}
	if _, err := conn.Exec(ctx, "SET default_transaction_read_only = off"); err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("source of %s: %w", db.Address(), err)
	}
	return conn, nil
}

// connectTarget opens a session on the target database.
func connectTarget(ctx context.Context, db *Database) (*pgConn, error) {
	conn, err := conninfo.Connect(ctx, db.Target)
	if err != nil {
		return nil, fmt.Errorf("connect to the target of %s: %w", db.Address(), err)
	}
	return conn, nil
}

// joinErrs joins errors, nil when there are none.
func joinErrs(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return errors.New(strings.Join(msgs, "; "))
}
