package cutover

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/providers/postgres/schemacompare"
)

// Step is one step of the cutover as shown before it runs. Its JSON form
// is cutover --json's.
type Step struct {
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

// Steps describes what Run will do with dbs and opts, in order.
func Steps(dbs []*Database, opts Options) []Step {
	var pre, fence, drain, seqs, detach []string
	for _, db := range dbs {
		a := db.Address()
		switch {
		case db.Xmin():
			pre = append(pre, fmt.Sprintf("%s: every table's xmin cursor on the target completed a cycle (the oldest under %s ago), no prepared transaction", a, db.StaleAfter))
		case db.Stream():
			pre = append(pre, fmt.Sprintf("%s: slot %q not in use (no sync running), lag under %s, no prepared transaction",
				a, db.Slot, lang.FormatBytes(opts.MaxLagBytes)))
		default:
			pre = append(pre, fmt.Sprintf("%s: subscription %q enabled and streaming, every table ready, lag under %s / %s, no prepared transaction",
				a, db.Subscription, opts.MaxLag, lang.FormatBytes(opts.MaxLagBytes)))
		}
		if opts.Fence == FenceNone {
			fence = append(fence, fmt.Sprintf("%s: not fenced (--fence none): stop the writers yourself (e.g. at the proxy) before this step", a))
		} else {
			fence = append(fence, fmt.Sprintf("%s: ALTER DATABASE %s SET default_transaction_read_only = on; end its client sessions (not replication connections, not this tool's)",
				a, pgx.Identifier{db.Name}.Sanitize()))
		}
		if db.Remap != nil {
			seqs = append(seqs, fmt.Sprintf("%s: set every sequence on the target (under its remapped table's schema) from the source's last_value and is_called", a))
		} else {
			seqs = append(seqs, fmt.Sprintf("%s: set every sequence on the target from the source's last_value and is_called", a))
		}
		if db.DDLCapture {
			detach = append(detach, fmt.Sprintf("%s: remove the DDL capture (policy.capture_ddl): drop event triggers database_replicator_ddl_end and database_replicator_ddl_drop, function and table database_replicator.ddl_log on the source; table database_replicator.ddl_log and its replay function on the target", a))
		}
		if db.Stream() {
			drain = append(drain, fmt.Sprintf("%s: run the stream applier from slot %q until it has applied the source's WAL position after the fence", a, db.Slot))
			if opts.KeepSourceObjects {
				detach = append(detach, fmt.Sprintf("%s: end the stream sync; keep slot %q and publication %q on the source (--keep-source-objects)", a, db.Slot, db.Publication))
			} else {
				detach = append(detach, fmt.Sprintf("%s: drop slot %q and publication %q on the source, and the applier's progress on the target", a, db.Slot, db.Publication))
			}
			continue
		}
		if db.Xmin() {
			drain = append(drain, fmt.Sprintf("%s: a final full xmin cycle of %d table(s) after the fence, reconciliation (deleted rows) included", a, len(db.Tables)))
			detach = append(detach, fmt.Sprintf("%s: end the xmin sync and record the cutover (nothing else to drop on the source)", a))
			continue
		}
		drain = append(drain, fmt.Sprintf("%s: wait until slot %q confirms the source's WAL position after the fence", a, db.Slot))
		d := fmt.Sprintf("%s: disable and drop subscription %q on the target", a, db.Subscription)
		if opts.KeepSourceObjects {
			d += fmt.Sprintf("; keep slot %q and publication %q on the source (--keep-source-objects)", db.Slot, db.Publication)
		} else {
			d += fmt.Sprintf("; drop slot %q and publication %q on the source", db.Slot, db.Publication)
		}
		if opts.Reverse || (db.Record != nil && db.Record.Reverse) {
			d += fmt.Sprintf("; reverse replication: before the drop, stop the subscription and create publication %q and logical slot %q on the target (the switch point), then subscription %q on the source (no copy, origin = none on PostgreSQL 16+)",
				reverseName(db.Publication), reverseName(db.Slot), reverseName(db.Subscription))
		}
		detach = append(detach, d)
	}
	return phaseSteps(pre, fence, drain, seqs, checkActions(opts.Verify, "row counts of every replicated table"), detach)
}

// Summary says, in one line, what the steps mean for the application.
func Summary(opts Options) string {
	var b strings.Builder
	if opts.Fence == FenceNone {
		b.WriteString("The source is not fenced: writes you let through after the drain are not on the target.")
	} else {
		b.WriteString("The source's databases reject writes from the fence on, and stay read-only after the cutover.")
	}
	b.WriteString(" A failure before the detach unfences the source and leaves replication as it was.")
	return b.String()
}

// fenceSetting is the database setting the fence adds on the source.
const fenceSetting = "default_transaction_read_only=on"

// FenceDifference reports whether d, a schema difference of a database,
// is only the fence's own setting on the source (the final check ignores
// it).
func FenceDifference(d schemacompare.Difference) bool {
	if d.Kind != "database" || d.Problem != schemacompare.Different || len(d.Attributes) == 0 {
		return false
	}
	for _, a := range d.Attributes {
		if a.Name != "settings" {
			return false
		}
		var rest []string
		for _, s := range strings.FieldsFunc(a.Source, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' }) {
			if s != fenceSetting {
				rest = append(rest, s)
			}
		}
		target := strings.Join(strings.FieldsFunc(a.Target, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' }), ",")
		if strings.Join(rest, ",") != target {
			return false
		}
	}
	return true
}

// RollbackSteps describes what Rollback will do with dbs and opts, in
// order.
func RollbackSteps(dbs []*Database, opts Options) []Step {
	var pre, fence, drain, seqs, detach []string
	for _, db := range dbs {
		a, rec := db.Address(), db.Record
		pre = append(pre, fmt.Sprintf("%s: reverse subscription %q on the source enabled and streaming, slot %q on the target in use, lag under %s, no prepared transaction on the target",
			a, rec.ReverseSubscription, rec.ReverseSlot, lang.FormatBytes(opts.MaxLagBytes)))
		fence = append(fence, fmt.Sprintf("%s: on the target, ALTER DATABASE %s SET default_transaction_read_only = on; end its client sessions (not replication connections, not this tool's)",
			a, pgx.Identifier{db.Name}.Sanitize()))
		drain = append(drain, fmt.Sprintf("%s: wait until slot %q on the target confirms the target's WAL position after the fence", a, rec.ReverseSlot))
		seqs = append(seqs, fmt.Sprintf("%s: set every sequence on the source from the target's last_value and is_called", a))
		detach = append(detach, fmt.Sprintf("%s: drop subscription %q on the source, slot %q and publication %q on the target; unfence the source (restore its default_transaction_read_only, end the sessions opened while fenced)",
			a, rec.ReverseSubscription, rec.ReverseSlot, rec.ReversePublication))
		if f := db.Forward; f != nil {
			detach = append(detach, fmt.Sprintf("%s: before the unfence, replicate forward again from the switch-back point without a copy: publication %q and a new slot %q on the source, subscription %q on the target (copy_data = false); restore the target's default_transaction_read_only",
				a, f.Publication.Name, f.Slot.Name, f.Subscription.Name))
		}
	}
	return phaseSteps(pre, fence, drain, seqs, checkActions(opts.Verify, "row counts of every table of the reverse publication"), detach)
}

// RollbackSummary says, in one line, what the rollback's steps mean for
// the application.
func RollbackSummary() string {
	return "The target's databases reject writes from the fence on; the source accepts writes again after the detach, and the target follows it again (its default_transaction_read_only as before the rollback). A failure before the detach unfences the target and leaves the reverse replication as it was."
}

// checkActions describes the final check of --verify; quick says what the
// quick check counts.
func checkActions(verify, quick string) []string {
	switch verify {
	case VerifyNone:
		return []string{"none (--verify none)"}
	case VerifyQuick:
		return []string{quick + " (--verify quick)"}
	default:
		return []string{"row counts and checksums of every table, and the schema (the verify command's comparison)"}
	}
}

// phaseSteps lists the phases of a cutover or its rollback, in order.
func phaseSteps(pre, fence, drain, seqs, check, detach []string) []Step {
	return []Step{
		{Name: PhasePreflight, Actions: pre},
		{Name: PhaseFence, Actions: fence},
		{Name: PhaseDrain, Actions: drain},
		{Name: PhaseSequences, Actions: seqs},
		{Name: PhaseVerify, Actions: check},
		{Name: PhaseDetach, Actions: detach},
	}
}
