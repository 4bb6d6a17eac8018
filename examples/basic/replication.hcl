# Replicate two databases from production to a new server, keep them in sync
# with logical replication, and skip the noisy tables.
#
#   export REPLICATOR_VAR_source_url='postgres://replicator@prod.internal:5432/postgres'
#   export TARGET_URL='postgres://admin@new.internal:5432/postgres'
#   database-replicator validate
variable "source_url" {
  description = "Source server; the password comes from ~/.pgpass or PGPASSWORD."
  sensitive   = true
}

source "prod" {
  url = var.source_url
}

target "replica" {
  url = env("TARGET_URL")
}

replication "main" {
  source = source.prod
  target = target.replica

  databases      = ["myapp", "analytics"]
  exclude_tables = ["myapp.logs", "myapp.cache"]
  schema_only    = ["myapp.audit_logs"]

  table "myapp.events" {
    where = "created_at > now() - interval '90 days'"
  }

  table "analytics.metrics" {
    time_window {
      column = "timestamp"
      last   = "6 months"
    }
  }

  table "myapp.public.legacy_events" {
    replica_identity = "full"
  }

  snapshot {
    jobs       = 4
    index_jobs = 2
  }

  sync {
    method = "auto"
  }

  policy {
    on_schema_drift = "apply"
    max_lag         = "30s"
    prevent_destroy = true
  }
}

state {
  backend = "local"
  path    = "replicator.state.json"
}
