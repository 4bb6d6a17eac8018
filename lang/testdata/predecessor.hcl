# Converted from predecessor.toml by database-replicator config convert.

variable "source_url" {
  sensitive = true
}

variable "target_url" {
  sensitive = true
}

source "source" {
  url = var.source_url
}

target "target" {
  url = var.target_url
}

replication "main" {
  source    = source.source
  target    = target.target
  databases = ["analytics", "legacy.db", "myapp"]
  schema_only = [
    "\"legacy.db\".public.\"odd.name\"",
    "myapp.public.audit_logs",
    "myapp.archive.old_events",
  ]

  table "analytics.Web Stats.page_views" {
    time_window {
      column = "Viewed At"
      last   = "90 days"
    }
  }

  table "myapp.public.events" {
    where = "created_at > now() - interval '90 days'"
  }

  table "myapp.sales.orders" {
    where = "status <> 'archived' AND placed_at > '2024-01-01 10:00'::timestamp"
  }

  table "myapp.public.metrics" {
    time_window {
      column = "timestamp"
      last   = "6 months"
    }
  }
}
