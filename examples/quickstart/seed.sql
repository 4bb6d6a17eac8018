-- Sample source database for `make demo`: several schemas, foreign keys, a
-- bytea and a jsonb table, a sequence-backed table, a table without a
-- primary key.
CREATE DATABASE shop;
\connect shop
CREATE SCHEMA billing;
CREATE TYPE order_status AS ENUM ('new', 'paid', 'shipped');

CREATE TABLE public.customers (
  id     bigserial PRIMARY KEY,
  email  text NOT NULL UNIQUE,
  joined timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE public.orders (
  id          bigserial PRIMARY KEY,
  customer_id bigint NOT NULL REFERENCES public.customers,
  status      order_status NOT NULL DEFAULT 'new',
  details     jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE billing.invoices (
  id       bigserial PRIMARY KEY,
  order_id bigint NOT NULL REFERENCES public.orders,
  pdf      bytea NOT NULL,
  total    numeric(12, 2) NOT NULL
);
CREATE TABLE public.page_views (      -- no primary key
  seen_at timestamptz NOT NULL DEFAULT now(),
  path    text NOT NULL
);
CREATE TABLE public.audit_log (       -- copied as structure only
  at   timestamptz NOT NULL DEFAULT now(),
  what text
);

INSERT INTO public.customers (email)
  SELECT 'customer' || g || '@example.com' FROM generate_series(1, 2000) g;
INSERT INTO public.orders (customer_id, status, details, created_at)
  SELECT 1 + g % 2000, (ARRAY['new', 'paid', 'shipped'])[1 + g % 3]::order_status,
         jsonb_build_object('items', g % 7 + 1, 'note', 'order ' || g),
         now() - (g % 400) * interval '1 day'
  FROM generate_series(1, 20000) g;
INSERT INTO billing.invoices (order_id, pdf, total)
  SELECT g, decode(md5(g::text), 'hex'), (g % 500) + 0.99 FROM generate_series(1, 20000, 2) g;
INSERT INTO public.page_views (path)
  SELECT '/product/' || (g % 300) FROM generate_series(1, 5000) g;
INSERT INTO public.audit_log (what) SELECT 'event ' || g FROM generate_series(1, 1000) g;
ANALYZE;
