package plans

import "github.com/database-replicator/database-replicator/planner/addrs"

// Cutover phases recorded in CutoverAttrs.Phase, in order. A cutover
// interrupted in a phase before CutoverDetaching can still be rolled back
// (the source is unfenced, replication is as it was); from
// CutoverDetaching on it can only be completed.
const (
	CutoverFenced     = "fenced"
	CutoverDrained    = "drained"
	CutoverSequences  = "sequences"
	CutoverVerified   = "verified"
	CutoverDetaching  = "detaching"
	CutoverDone       = "done"
	CutoverRolledBack = "rolled_back"
)

// Phases of a switch back (cutover --rollback) after a cutover with
// reverse replication: the target is fenced (CutoverBackFenced), then
// the reverse replication is dropped and the source unfenced
// (CutoverBackDetaching), and the record ends in CutoverRolledBack. A
// switch back interrupted before CutoverBackDetaching is undone (the
// target unfenced, the record back to CutoverDone); from it on it can only
// be completed.
const (
	CutoverBackFenced    = "rollback_fenced"
	CutoverBackDrained   = "rollback_drained"
	CutoverBackDetaching = "rollback_detaching"
)

// CutoverAttrs record the progress of the cutover of one database, so
// that a rerun after a crash completes it or rolls it back.
type CutoverAttrs struct {
	// Phase is the last phase reached (CutoverFenced ... CutoverDone).
	Phase string
	// Method is the sync method cut over: "xmin" (Publication, Slot and
	// Subscription are then empty), "stream" (no Subscription), or "" for
	// logical.
	Method string
	// Publication and Slot are on the source, Subscription on the target.
	Publication, Slot, Subscription string
	// Fence is "all" (the database was made read-only and its sessions
	// ended) or "none".
	Fence string
	// PriorReadOnly is the database's own default_transaction_read_only
	// setting before the fence ("" when it had none): the unfence
	// restores it.
	PriorReadOnly string
	// FenceLSN is the source's WAL position after the fence: the target
	// has every earlier change once the slot confirms it.
	FenceLSN string
	// FencedAt is when the fence took effect (RFC 3339), the start of the
	// write-unavailability window.
	FencedAt string
	// WritesAtFence is the source's count of rows written to the
	// published tables (pg_stat_user_tables) right after the fence.
	WritesAtFence int64
	// KeepSourceObjects leaves the slot and publication on the source.
	KeepSourceObjects bool
	// Reverse is whether the detach sets up reverse replication (cutover
	// --reverse): ReversePublication and ReverseSlot on the target (the
	// new primary), ReverseSubscription on the source (the old one),
	// streaming from the switch point without a copy.
	Reverse                                              bool
	ReversePublication, ReverseSlot, ReverseSubscription string
	// ReverseStoresPassword is whether the reverse subscription's
	// connection string carries the password written in the target URL
	// (as the forward subscription did the source's).
	ReverseStoresPassword bool
	// BackPriorReadOnly, BackFencedAt and BackFenceLSN are the switch
	// back's fence of the target, as PriorReadOnly, FencedAt and FenceLSN
	// are the cutover's of the source.
	BackPriorReadOnly, BackFencedAt, BackFenceLSN string
}

// Kind implements Attrs.
func (*CutoverAttrs) Kind() addrs.Kind { return addrs.Cutover }

func (a *CutoverAttrs) encode() map[string]any {
	m := map[string]any{"phase": a.Phase, "publication": a.Publication, "slot": a.Slot, "subscription": a.Subscription,
		"fence": a.Fence, "fence_lsn": a.FenceLSN, "fenced_at": a.FencedAt, "writes_at_fence": a.WritesAtFence,
		"keep_source_objects": a.KeepSourceObjects}
	if a.PriorReadOnly != "" {
		m["prior_read_only"] = a.PriorReadOnly
	}
	if a.Method != "" {
		m["method"] = a.Method
	}
	if a.Reverse {
		m["reverse"] = true
		m["reverse_publication"], m["reverse_slot"], m["reverse_subscription"] = a.ReversePublication, a.ReverseSlot, a.ReverseSubscription
		m["reverse_password_stored"] = a.ReverseStoresPassword
	}
	if a.BackFencedAt != "" {
		m["back_fenced_at"], m["back_fence_lsn"] = a.BackFencedAt, a.BackFenceLSN
		if a.BackPriorReadOnly != "" {
			m["back_prior_read_only"] = a.BackPriorReadOnly
		}
	}
	return m
}

func decodeCutover(f *fields) *CutoverAttrs {
	return &CutoverAttrs{Phase: f.str("phase"), Method: f.str("method"), Publication: f.str("publication"), Slot: f.str("slot"),
		Subscription: f.str("subscription"), Fence: f.str("fence"), PriorReadOnly: f.str("prior_read_only"),
		FenceLSN: f.str("fence_lsn"), FencedAt: f.str("fenced_at"), WritesAtFence: f.integer("writes_at_fence"),
		KeepSourceObjects: f.boolean("keep_source_objects"), Reverse: f.boolean("reverse"),
		ReversePublication: f.str("reverse_publication"), ReverseSlot: f.str("reverse_slot"),
		ReverseSubscription: f.str("reverse_subscription"), ReverseStoresPassword: f.boolean("reverse_password_stored"),
		BackPriorReadOnly: f.str("back_prior_read_only"), BackFencedAt: f.str("back_fenced_at"), BackFenceLSN: f.str("back_fence_lsn")}
}
