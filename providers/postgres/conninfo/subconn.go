package conninfo

import "github.com/database-replicator/database-replicator/providers/postgres/connstr"

// SubscriptionConnString is the connection string a target's subscription
// uses to reach the source: ChildConnString, plus the password written in
// the source's connection string when withPassword is true. A password
// this machine resolves from PGPASSWORD or a password file is never
// added: the target server authenticates on its own then (its ~/.pgpass
// or PGPASSFILE). PostgreSQL stores the string in pg_subscription on the
// target, which is why the planner warns when it holds a password; never
// log or print it.
func SubscriptionConnString(info Info, withPassword bool) string {
	s := ChildConnString(info)
	if p := info.WrittenPassword(); withPassword && p != "" {
		s += " password=" + connstr.QuoteKV(p)
	}
	return s
}
