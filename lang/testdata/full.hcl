variable "source_url" {
  sensitive = true                      # never printed in plans, logs or state
}

source "prod" {
  url = var.source_url                  # libpq URL or key=value; sslmode etc. pass through
}

target "replica" {
  url = env("TARGET_URL")               # env() and file() are available
}

replication "main" {
  source = source.prod
  target = target.replica

  databases         = ["myapp", "analytics"]  # include list; omit for every non-template db
  # exclude_databases = ["test"]              # mutually exclusive with databases
  # include_tables  = ["myapp.users"]         # "db.table" or "db.schema.table"
  exclude_tables    = ["myapp.logs", "myapp.cache"]  # mutually exclusive with include_tables
  schema_only       = ["myapp.audit_logs"]    # structure, no rows

  table "myapp.events" {                      # unqualified table = schema public
    where = "created_at > now() - interval '90 days'"
  }
  table "analytics.metrics" {
    time_window {
      column = "timestamp"
      last   = "6 months"                     # seconds|minutes|hours|days|weeks|months|years
    }
  }
  table "myapp.public.legacy_events" {
    replica_identity = "full"                 # for tables without a primary key
  }

  snapshot {
    jobs          = 8       # parallel table copies; default: min(8, 2 × CPU cores)
    index_jobs    = 4       # parallel index/constraint builds after the copy
    globals       = true    # roles and grants via pg_dumpall --globals-only
    drop_existing = false   # true: drop and recreate target databases that already hold data
  }

  sync {
    method             = "auto"   # auto | logical | xmin | stream | none
    interval           = "1h"     # xmin: time between polling cycles
    reconcile_interval = "24h"    # xmin: time between delete-detection passes; "off" disables
    batch_size         = 10000    # xmin/stream: rows per upsert batch
    publication        = "seren_replication_pub"   # object names on source/target
    subscription       = "seren_replication_sub"
  }

  policy {
    on_schema_drift = "apply"     # apply | fail | ignore
    max_lag         = "30s"       # status/plan report lag beyond this as drift
    prevent_destroy = true        # refuse plans that drop replication objects or truncate data
  }
}

state {
  backend = "local"               # local | postgres
  path    = "replicator.state.json"
  # backend = "postgres"; url = env("STATE_URL"); schema = "replicator"
}
