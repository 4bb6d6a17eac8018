# One source, two targets: a full copy for the new primary and a filtered
# copy for analytics. Each replication block gets its own publication and
# subscription names so the two never collide.
variable "source_url" {
  sensitive = true
}

source "prod" {
  url = var.source_url
}

target "primary" {
  url = env("PRIMARY_URL")
}

target "warehouse" {
  url = env("WAREHOUSE_URL")
}

replication "primary" {
  source    = source.prod
  target    = target.primary
  databases = ["myapp"]

  sync {
    publication  = "replicator_primary_pub"
    subscription = "replicator_primary_sub"
  }
}

replication "warehouse" {
  source        = source.prod
  target        = target.warehouse
  databases     = ["myapp"]
  include_tables = ["myapp.orders", "myapp.customers"]

  table "myapp.orders" {
    time_window {
      column = "created_at"
      last   = "1 year"
    }
  }

  sync {
    publication  = "replicator_warehouse_pub"
    subscription = "replicator_warehouse_sub"
  }
}

state {
  path = "warehouse.state.json"
}
