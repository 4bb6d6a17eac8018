package catalog

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// Fingerprint is a digest of what a plan depends on: a sha256 over the
// canonical JSON of the server with the fields that move on their own
// left out, so that a saved plan can tell whether the server changed
// under it. Left out: sizes, row estimates, LSNs, retained WAL, the
// walsender count, whether a slot is active and its pid, sequence values
// (the plan syncs them whatever they are), the exact number of large
// objects (only whether there are any counts) and a slot's WAL status
// other than "lost". Everything else (settings, privileges, databases,
// schemas, tables, columns, keys, publications, subscriptions and their
// table states, slot names) counts. Equal servers give equal strings.
func (s *Server) Fingerprint() string {
	if s == nil {
		return ""
	}
	c := canonicalServer(s)
	b, err := json.Marshal(c)
	if err != nil {
		// The model is plain data: Marshal cannot fail on it.
		panic("postgres: fingerprint: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// canonicalServer is a deep copy of s without the volatile fields.
func canonicalServer(s *Server) *Server {
	c := *s
	c.UsedWalSenders = 0
	c.CurrentWALLSN = ""
	c.Slots = make([]Slot, len(s.Slots))
	for i, sl := range s.Slots {
		sl.Active, sl.ActivePID = false, 0
		sl.RestartLSN, sl.ConfirmedFlushLSN, sl.RetainedBytes = "", "", 0
		if sl.WALStatus != "lost" {
			sl.WALStatus = ""
		}
		c.Slots[i] = sl
	}
	c.Databases = make([]*Database, len(s.Databases))
	for i, d := range s.Databases {
		c.Databases[i] = canonicalDatabase(d)
	}
	return &c
}

// canonicalDatabase is a copy of d without the volatile fields.
func canonicalDatabase(d *Database) *Database {
	c := *d
	c.SizeBytes = 0
	c.LargeObjects = min(c.LargeObjects, 1)
	c.Tables = make([]*Table, len(d.Tables))
	for i, t := range d.Tables {
		ct := *t
		ct.EstimatedRows, ct.Bytes = 0, 0
		c.Tables[i] = &ct
	}
	c.Sequences = make([]*Sequence, len(d.Sequences))
	for i, s := range d.Sequences {
		cs := *s
		cs.LastValue, cs.IsCalled = 0, false
		c.Sequences[i] = &cs
	}
	c.Subscriptions = make([]*Subscription, len(d.Subscriptions))
	for i, s := range d.Subscriptions {
		cs := *s
		cs.Tables = make([]SubscriptionTable, len(s.Tables))
		for j, st := range s.Tables {
			st.LSN = ""
			cs.Tables[j] = st
		}
		c.Subscriptions[i] = &cs
	}
	return &c
}
