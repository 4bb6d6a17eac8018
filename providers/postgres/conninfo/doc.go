// Package conninfo is how database-replicator reaches a PostgreSQL server:
// connection strings parsed once into an Info (ParseURL), our own
// connections (Connect, with ConnectError classifying failures), scrubbing
// a known password out of server messages (Scrub), and credentials for
// child tools: a password-free connection string (ChildConnString), an
// environment (ChildEnv) and a 0600 password file the child reads through
// an inherited descriptor (OpenChildPassFile; a named file from
// WritePassFile where unnamed files are not available), so that passwords
// never appear in argv, logs or on disk after the child. It also holds the
// few server facts every caller needs (ErrCode, ServerMessage,
// ServerVersionNum, QuoteLiteral) and the subscription-side checks
// (SubscriptionConnString, TargetReachesSource).
package conninfo
