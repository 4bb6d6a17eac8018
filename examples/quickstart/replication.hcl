# The configuration `make demo` applies: one database, a time window on
# orders, an audit table copied as structure only, and full replica
# identity for the table without a primary key.
variable "source_url" {
  sensitive = true
}

source "demo" {
  url = var.source_url
}

target "demo" {
  url = env("TARGET_URL")
}

replication "quickstart" {
  source      = source.demo
  target      = target.demo
  databases   = ["shop"]
  schema_only = ["shop.audit_log"]

  # The window's column is not in the primary key: with a row filter,
  # PostgreSQL needs it in the replica identity for UPDATE and DELETE.
  table "shop.orders" {
    replica_identity = "full"
    time_window {
      column = "created_at"
      last   = "1 year"
    }
  }

  table "shop.page_views" {
    replica_identity = "full"
  }

  snapshot {
    jobs       = 2
    index_jobs = 2
  }
}
