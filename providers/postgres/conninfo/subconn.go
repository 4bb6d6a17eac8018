package conninfo

import "github.com/database-replicator/database-replicator/providers/postgres/connstr"

// SubscriptionConnString is the connection string a target's subscription
// uses to reach the source: ChildConnString plus the password when the
// source URL has one. PostgreSQL stores it in pg_subscription on the
// target, which is why the planner warns when it holds a password; never
// log or print it.
func SubscriptionConnString(info Info) string {
	s := ChildConnString(info)
	if p := info.Password(); p != "" {
		s += " password=" + connstr.QuoteKV(p)
	}
	return s
}
