// Package connstr parses and renders libpq connection strings (URLs and
// key=value) the way libpq reads them, and is the one redaction of
// passwords in connection strings and free text (RedactURL, RedactText,
// Mask). It depends on no database driver, so that low-level packages
// (state) can redact without linking pgx.
package connstr
