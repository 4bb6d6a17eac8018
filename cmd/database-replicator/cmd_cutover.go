package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/database-replicator/database-replicator/cmd/database-replicator/views"
	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/actions"
	"github.com/database-replicator/database-replicator/providers/postgres/cutover"
	"github.com/database-replicator/database-replicator/providers/postgres/endpoints"
	"github.com/database-replicator/database-replicator/providers/postgres/status"
	"github.com/database-replicator/database-replicator/providers/postgres/verify"
	"github.com/database-replicator/database-replicator/state"
)

// cutoverCmd switches the application from the source to the target.
type cutoverCmd struct {
	AutoApprove       bool         `short:"y" aliases:"yes" help:"Cut over without asking for confirmation (also -y, --yes)."`
	JSON              bool         `name:"json" help:"Print the steps and the report as one JSON document (needs --auto-approve)."`
	MaxLag            intervalFlag `help:"Refuse to start when the target lags more than DURATION." default:"5s" placeholder:"DURATION"`
	MaxLagBytes       sizeFlag     `help:"Refuse to start when the target lags more than SIZE of WAL." default:"16MB" placeholder:"SIZE"`
	Fence             string       `help:"all: make the source's databases read-only and end their client sessions; none: you stop the writers (e.g. at a proxy)." enum:"all,none" default:"all"`
	Verify            string       `help:"Final check before the detach: full (row counts, checksums, schema), quick (row counts), none." enum:"full,quick,none" default:"full"`
	KeepSourceObjects bool         `help:"Leave the replication slot and the publication on the source (the slot retains WAL until dropped)."`
	Reverse           bool         `help:"After the detach, replicate the target (the new primary) back to the source from the switch point, without a copy: the way back (cutover --rollback)."`
	Rollback          bool         `help:"Switch back to the source after a cutover --reverse: fence the target, drain the reverse replication, sync the sequences back, drop the reverse replication, unfence the source."`
	DrainTimeout      intervalFlag `help:"How long to wait for the target to apply up to the fence." default:"5m" placeholder:"DURATION"`
	connectionFlags
}

// killAtEnv names a cutover phase after whose record the process kills
// itself (SIGKILL): the crash tests' fault point.
const killAtEnv = "REPLICATOR_TEST_CUTOVER_KILL_AT"

// Run implements the command.
func (c *cutoverCmd) Run(a *app) error {
	if c.JSON && !c.AutoApprove {
		return errors.New("cutover --json needs --auto-approve: review the steps with cutover (without --json) first")
	}
	if c.Rollback && c.Reverse {
		return errors.New("cutover --rollback and --reverse exclude each other: --rollback switches back over the reverse replication an earlier cutover --reverse set up")
	}
	cfg, err := a.loadConfigOrFlags(&c.connectionFlags)
	if err != nil {
		return err
	}
	eps, err := resolveEndpoints(cfg)
	if err != nil {
		return err
	}
	backend, unlock, err := a.lockState(cfg, "cutover")
	if err != nil {
		return err
	}
	defer unlock()
	st, err := backend.Read(a.ctx)
	if err != nil {
		return err
	}
	if c.Rollback {
		return c.rollback(a, cfg, eps, backend, st)
	}
	dbs, done, err := cutoverDatabases(cfg, eps, st)
	if err != nil {
		return err
	}
	if len(dbs) == 0 {
		if len(done) > 0 {
			fmt.Fprintf(a.io.stdout, "Nothing to cut over: %s already cut over.\n", strings.Join(done, ", "))
			return nil
		}
		return errors.New("nothing to cut over: the state records no logical, stream or xmin replication (run apply, or init and sync, first)")
	}
	jobs, releaseSync, err := cutoverSyncs(a, cfg, eps, st, dbs)
	if err != nil {
		return err
	}
	defer releaseSync()
	xminDrain, err := c.xminDrain(a, jobs)
	if err != nil {
		return err
	}
	streamDrain, err := c.streamDrain(a, jobs)
	if err != nil {
		return err
	}
	opts := cutover.Options{MaxLag: c.MaxLag.D, MaxLagBytes: c.MaxLagBytes.N, Fence: c.Fence, Verify: c.Verify,
		KeepSourceObjects: c.KeepSourceObjects, Reverse: c.Reverse, DrainTimeout: c.DrainTimeout.D}
	view := views.NewCutoverView(a.io.stdout, c.JSON)
	if err := view.Steps(cutover.Steps(dbs, opts), cutover.Summary(opts)); err != nil {
		return err
	}
	resumed := false
	for _, db := range dbs {
		if db.Record != nil {
			resumed = true
			fmt.Fprintf(a.io.stderr, "An interrupted cutover of %s is recorded (phase %s): this run resumes it, or rolls it back if it cannot.\n", db.Address(), db.Record.Phase)
		}
	}
	if !c.AutoApprove && !resumed {
		if err := a.confirm("cutover", "--auto-approve", confirmYes); err != nil {
			return err
		}
	}
	in := c.input(a, cfg, eps, backend, st, view)
	in.Databases, in.Options, in.XminDrain, in.StreamDrain = dbs, opts, xminDrain, streamDrain
	rep, runErr := cutover.Run(a.ctx, in)
	if err := view.Report(rep); err != nil {
		return err
	}
	if runErr != nil {
		return &exitError{code: 1, err: runErr}
	}
	return nil
}

// input is the cutover's Input without its databases and options: how it
// records its progress in the state, checks and reports.
func (c *cutoverCmd) input(a *app, cfg *lang.Config, eps *endpoints.Set, backend state.Backend, st *state.State, view views.CutoverView) cutover.Input {
	killAt, _ := a.io.lookupEnv(killAtEnv)
	return cutover.Input{
		Log: a.log,
		Save: func(ctx context.Context, db *cutover.Database, attrs *plans.CutoverAttrs) error {
			addr := addrs.New(db.Replication, addrs.Cutover, db.Name).String()
			if attrs == nil {
				st.RemoveResource(addr)
			} else {
				st.SetResource(&state.Resource{Address: addr, Kind: string(addrs.Cutover), Status: cutoverStatus(attrs.Phase),
					Attributes: plans.EncodeAttrs(attrs)})
			}
			return backend.Write(ctx, st)
		},
		Forget: func(ctx context.Context, db *cutover.Database, kept bool) error {
			// The detach removed the DDL capture first.
			st.RemoveResource(addrs.New(db.Replication, addrs.DDLCapture, db.Name).String())
			if db.Xmin() {
				// The tables' xmin records: the sync of the database ended.
				for _, ad := range st.Addresses() {
					if p, err := addrs.Parse(ad); err == nil && p.Kind == addrs.Xmin && p.Replication == db.Replication && strings.HasPrefix(p.Key, db.Name+".") {
						st.RemoveResource(ad)
					}
				}
				return backend.Write(ctx, st)
			}
			kinds := []addrs.Kind{addrs.Subscription}
			if !kept {
				kinds = append(kinds, addrs.Slot, addrs.Publication)
			}
			for _, k := range kinds {
				st.RemoveResource(addrs.New(db.Replication, k, db.Name).String())
			}
			return backend.Write(ctx, st)
		},
		DropDDLCapture: func(ctx context.Context, db *cutover.Database) error {
			return actions.DropDDLCapture(ctx, db.Source, db.Target)
		},
		FullCheck: func(ctx context.Context) (string, error) {
			rep, err := verify.Run(ctx, verify.Input{Config: cfg, Endpoints: eps, MaxKeys: 5})
			if err != nil {
				return "", err
			}
			var differ []string
			for _, t := range rep.Tables {
				if t.Result != verify.Equal {
					differ = append(differ, t.Table)
				}
			}
			for _, s := range rep.Schema {
				for _, d := range s.Differences {
					if cutover.FenceDifference(d) {
						continue
					}
					differ = append(differ, fmt.Sprintf("%s: %s %s %s", s.Database, d.Kind, d.Object, d.Problem))
				}
			}
			return strings.Join(differ, ", "), nil
		},
		OnPhase: func(p cutover.PhaseResult) { _ = view.Phase(p) },
		AfterRecord: func(phase string) {
			if killAt != "" && killAt == phase {
				if p, err := os.FindProcess(os.Getpid()); err == nil {
					_ = p.Kill()
				}
			}
		},
	}
}

// rollback runs cutover --rollback.
func (c *cutoverCmd) rollback(a *app, cfg *lang.Config, eps *endpoints.Set, backend state.Backend, st *state.State) error {
	dbs, err := rollbackDatabases(cfg, eps, st)
	if err != nil {
		return err
	}
	if err := forwardReplications(a.ctx, a, cfg, eps, st, dbs); err != nil {
		return err
	}
	opts := cutover.Options{MaxLag: c.MaxLag.D, MaxLagBytes: c.MaxLagBytes.N, Verify: c.Verify, DrainTimeout: c.DrainTimeout.D}
	view := views.NewCutoverView(a.io.stdout, c.JSON)
	if err := view.Steps(cutover.RollbackSteps(dbs, opts), cutover.RollbackSummary()); err != nil {
		return err
	}
	resumed := false
	for _, db := range dbs {
		if db.Record.Phase != plans.CutoverDone {
			resumed = true
			fmt.Fprintf(a.io.stderr, "An interrupted rollback of %s is recorded (phase %s): this run resumes it, or undoes it if it cannot.\n", db.Address(), db.Record.Phase)
		}
	}
	if !c.AutoApprove && !resumed {
		if err := a.confirm("rollback", "--auto-approve", confirmYes); err != nil {
			return err
		}
	}
	in := c.input(a, cfg, eps, backend, st, view)
	in.Databases, in.Options = dbs, opts
	in.Reforwarded = func(ctx context.Context, db *cutover.Database) error { return reforwarded(ctx, backend, st, db) }
	rep, runErr := cutover.Rollback(a.ctx, in)
	if err := view.Report(rep); err != nil {
		return err
	}
	if runErr != nil {
		return &exitError{code: 1, err: runErr}
	}
	return nil
}

// rollbackDatabases lists the databases to switch back: every database
// whose cutover record says it was cut over with --reverse (or whose
// rollback was interrupted).
func rollbackDatabases(cfg *lang.Config, eps *endpoints.Set, st *state.State) ([]*cutover.Database, error) {
	var dbs []*cutover.Database
	var problems []string
	for _, r := range cfg.Replications {
		src, dst, err := eps.Pair(r)
		if err != nil {
			return nil, err
		}
		for _, name := range status.StateDatabases(st, r.Name) {
			res := st.Resource(addrs.New(r.Name, addrs.Cutover, name).String())
			if res == nil {
				continue
			}
			at, err := plans.DecodeAttrs(addrs.Cutover, res.Attributes)
			if err != nil {
				return nil, fmt.Errorf("the state's cutover record of replication.%s %q: %w", r.Name, name, err)
			}
			rec, _ := at.(*plans.CutoverAttrs)
			if rec == nil {
				continue
			}
			addr := fmt.Sprintf("replication.%s %q", r.Name, name)
			switch rec.Phase {
			case plans.CutoverDone, plans.CutoverBackFenced, plans.CutoverBackDrained, plans.CutoverBackDetaching:
			case plans.CutoverRolledBack:
				problems = append(problems, addr+" was rolled back already")
				continue
			default:
				problems = append(problems, fmt.Sprintf("%s: its cutover stopped in phase %q: run cutover (without --rollback) to finish or undo it", addr, rec.Phase))
				continue
			}
			if !rec.Reverse {
				problems = append(problems, addr+" was cut over without --reverse: there is no reverse replication to switch back over")
				continue
			}
			dbs = append(dbs, &cutover.Database{Replication: r.Name, Name: name, Source: src.WithDatabase(name), Target: dst.WithDatabase(name),
				Publication: rec.Publication, Slot: rec.Slot, Subscription: rec.Subscription, Record: rec})
		}
	}
	if len(dbs) == 0 {
		if len(problems) > 0 {
			return nil, fmt.Errorf("nothing to roll back: %s", strings.Join(problems, "; "))
		}
		return nil, errors.New("nothing to roll back: the state records no cutover (run cutover --reverse first)")
	}
	return dbs, nil
}

// cutoverStatus is the state status of a cutover record at phase.
func cutoverStatus(phase string) string {
	if phase == plans.CutoverDone {
		return state.StatusDone
	}
	return state.StatusInProgress
}

// cutoverDatabases lists the databases to cut over: every database the
// state records with a subscription, a stream engine's slot, xmin
// records (or with an unfinished cutover), with
// the cutover record of an earlier run. done names those already cut
// over.
func cutoverDatabases(cfg *lang.Config, eps *endpoints.Set, st *state.State) (dbs []*cutover.Database, done []string, err error) {
	for _, r := range cfg.Replications {
		src, dst, err := eps.Pair(r)
		if err != nil {
			return nil, nil, err
		}
		for _, name := range status.StateDatabases(st, r.Name) {
			var rec *plans.CutoverAttrs
			if res := st.Resource(addrs.New(r.Name, addrs.Cutover, name).String()); res != nil {
				a, err := plans.DecodeAttrs(addrs.Cutover, res.Attributes)
				if err != nil {
					return nil, nil, fmt.Errorf("the state's cutover record of replication.%s %q: %w", r.Name, name, err)
				}
				rec, _ = a.(*plans.CutoverAttrs)
			}
			if rec != nil {
				switch rec.Phase {
				case plans.CutoverDone:
					done = append(done, fmt.Sprintf("replication.%s %q", r.Name, name))
					continue
				case plans.CutoverRolledBack:
					done = append(done, fmt.Sprintf("replication.%s %q (and rolled back)", r.Name, name))
					continue
				case plans.CutoverBackFenced, plans.CutoverBackDrained, plans.CutoverBackDetaching:
					return nil, nil, fmt.Errorf("replication.%s %q: a rollback stopped in phase %q: run cutover --rollback to finish or undo it", r.Name, name, rec.Phase)
				}
			}
			db := &cutover.Database{Replication: r.Name, Name: name, Source: src.WithDatabase(name), Target: dst.WithDatabase(name), Record: rec,
				DDLCapture: st.Resource(addrs.New(r.Name, addrs.DDLCapture, name).String()) != nil}
			if rec != nil {
				db.Publication, db.Slot, db.Subscription, db.Method = rec.Publication, rec.Slot, rec.Subscription, rec.Method
				dbs = append(dbs, db)
				continue
			}
			res := st.Resource(addrs.New(r.Name, addrs.Subscription, name).String())
			if res == nil && r.Sync.Method == lang.SyncStream {
				// The stream engine: a slot and a publication, no
				// subscription.
				sres := st.Resource(addrs.New(r.Name, addrs.Slot, name).String())
				if sres == nil {
					continue
				}
				a, err := plans.DecodeAttrs(addrs.Slot, sres.Attributes)
				if err != nil {
					return nil, nil, fmt.Errorf("the state's slot record of replication.%s %q: %w", r.Name, name, err)
				}
				slot, _ := a.(*plans.SlotAttrs)
				if slot == nil {
					continue
				}
				db.Method, db.Slot, db.Publication = cutover.MethodStream, slot.Name, r.Sync.Publication
				if pres := st.Resource(addrs.New(r.Name, addrs.Publication, name).String()); pres != nil {
					if pa, err := plans.DecodeAttrs(addrs.Publication, pres.Attributes); err == nil {
						if pub, _ := pa.(*plans.PublicationAttrs); pub != nil && pub.Name != "" {
							db.Publication = pub.Name
						}
					}
				}
				dbs = append(dbs, db)
				continue
			}
			if res == nil {
				for _, ad := range st.Addresses() {
					if p, err := addrs.Parse(ad); err == nil && p.Kind == addrs.Xmin && p.Replication == r.Name && strings.HasPrefix(p.Key, name+".") {
						db.Method = cutover.MethodXmin
						break
					}
				}
				if db.Xmin() {
					dbs = append(dbs, db)
				}
				continue
			}
			a, err := plans.DecodeAttrs(addrs.Subscription, res.Attributes)
			if err != nil {
				return nil, nil, fmt.Errorf("the state's subscription record of replication.%s %q: %w", r.Name, name, err)
			}
			sub, _ := a.(*plans.SubscriptionAttrs)
			if sub == nil {
				continue
			}
			db.Subscription, db.Slot, db.Publication, db.StoresPassword = sub.Name, sub.SlotName, r.Sync.Publication, sub.StoresPassword
			if len(sub.Publications) > 0 {
				db.Publication = sub.Publications[0]
			}
			dbs = append(dbs, db)
		}
	}
	return dbs, done, nil
}
