# One source, two targets: a full copy and a filtered copy.
variable "source_url" {
  sensitive = true
  default   = "postgres://replicator@prod.internal/postgres"
}

source "prod" {
  url = var.source_url
}

target "primary" {
  url = env("PRIMARY_URL", "postgres://admin@primary.internal/postgres")
}

target "warehouse" {
  url = env("WAREHOUSE_URL", "postgres://admin@warehouse.internal/postgres")
}

replication "primary" {
  source    = source.prod
  target    = target.primary
  databases = ["myapp"]

  sync {
    publication           = "replicator_primary_pub"
    subscription          = "replicator_primary_sub"
    subscription_password = "none"
  }
}

replication "warehouse" {
  source         = source.prod
  target         = target.warehouse
  databases      = ["myapp"]
  include_tables = ["myapp.orders", "myapp.customers"]

  table "myapp.orders" {
    time_window {
      column = "created_at"
      last   = "1 year"
    }
  }

  sync {
    method             = "xmin"
    interval           = "5m"
    reconcile_interval = "off"
    batch_size         = 500
    publication        = "replicator_warehouse_pub"
    subscription       = "replicator_warehouse_sub"
  }
}

state {
  backend = "postgres"
  url     = env("STATE_URL", "postgres://state.internal/replicator")
}
