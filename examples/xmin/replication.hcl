# Keep a copy in sync from a source you cannot change: a server with
# wal_level = replica that you may not restart, or a role without the
# REPLICATION privilege. The xmin engine polls changed rows every
# interval and finds deleted rows by reconciliation; nothing is created
# on the source.
#
#   export REPLICATOR_VAR_source_url='postgres://reader@replica.internal:5432/postgres'
#   export TARGET_URL='postgres://admin@new.internal:5432/postgres'
#   database-replicator validate     # explains why xmin is used
#   database-replicator apply        # the snapshot copy
#   database-replicator sync --daemon --metrics-addr 127.0.0.1:9187
variable "source_url" {
  description = "Source server (xmin only reads it: SELECT on the tables is enough)."
  sensitive   = true
}

source "replica" {
  url = var.source_url
}

target "new" {
  url = env("TARGET_URL")
}

replication "reporting" {
  source = source.replica
  target = target.new

  databases = ["shop"]

  sync {
    method             = "xmin"
    interval           = "5m" # one cycle: changed rows of every table, then sequences
    reconcile_interval = "1h" # deletes arrive at most this late
    batch_size         = 5000 # rows per target transaction; the cursor moves with each
  }
}
