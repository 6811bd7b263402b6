-- +goose Up
CREATE TABLE delivery_categories (
    id          text PRIMARY KEY,
    name        varchar(100) NOT NULL UNIQUE,
    description text NOT NULL DEFAULT '',
    is_active   boolean NOT NULL DEFAULT true,
    created_at  datetime NOT NULL,
    updated_at  datetime NOT NULL
);

CREATE TABLE vehicle_types (
    id                         text PRIMARY KEY,
    name                       varchar(100) NOT NULL UNIQUE,
    description                text NOT NULL DEFAULT '',
    max_weight_capacity_kg     text NOT NULL DEFAULT '0',
    max_volume_capacity_liters text NOT NULL DEFAULT '0',
    passenger_capacity         integer NOT NULL DEFAULT 0,
    image                      text,
    is_active                  boolean NOT NULL DEFAULT true,
    created_at                 datetime NOT NULL,
    updated_at                 datetime NOT NULL
);

CREATE TABLE vehicle_type_categories (
    vehicle_type_id text NOT NULL REFERENCES vehicle_types(id) ON DELETE CASCADE,
    category_id     text NOT NULL REFERENCES delivery_categories(id) ON DELETE CASCADE,
    PRIMARY KEY (vehicle_type_id, category_id)
);

CREATE TABLE users (
    userid             text PRIMARY KEY,
    username           text,
    first_name         text,
    last_name          text,
    email              text,
    image_url          text,
    gender             text CHECK (gender IN ('male','female','other')),
    phone              varchar(10),
    age                integer,
    role               text CHECK (role IN ('client','delivery')),
    is_online          boolean NOT NULL DEFAULT false,
    is_available       boolean NOT NULL DEFAULT false,
    current_vehicle_id text REFERENCES vehicles(vehicle_id) ON DELETE SET NULL,
    is_staff           boolean NOT NULL DEFAULT false,
    deleted_at         datetime,
    clerk_updated_at   datetime,
    created_at         datetime NOT NULL,
    updated_at         datetime NOT NULL
);
CREATE INDEX users_username_idx ON users (username);

CREATE TABLE vehicles (
    vehicle_id                 text PRIMARY KEY,
    user_id                    text NOT NULL REFERENCES users(userid) ON DELETE CASCADE,
    type_id                    text NOT NULL REFERENCES vehicle_types(id) ON DELETE RESTRICT,
    brand                      varchar(50) NOT NULL,
    model                      varchar(50) NOT NULL,
    year                       integer NOT NULL,
    license_plate              varchar(20) NOT NULL UNIQUE,
    vin                        varchar(17) NOT NULL UNIQUE,
    color                      varchar(30) NOT NULL DEFAULT '',
    driver_license_status      text NOT NULL DEFAULT 'pending',
    registration_card_status   text NOT NULL DEFAULT 'pending',
    insurance_policy_status    text NOT NULL DEFAULT 'pending',
    criminal_record_status     text NOT NULL DEFAULT 'pending',
    is_verified                boolean NOT NULL DEFAULT false,
    verification_notes         text,
    created_at                 datetime NOT NULL,
    updated_at                 datetime NOT NULL
);
CREATE INDEX vehicles_user_id_idx ON vehicles (user_id);

CREATE TABLE addresses (
    address_id  text PRIMARY KEY,
    user_id     text NOT NULL REFERENCES users(userid) ON DELETE CASCADE,
    name        varchar(100) NOT NULL,
    description varchar(255) NOT NULL DEFAULT '',
    type        text NOT NULL CHECK (type IN ('casa','trabajo','edificio')),
    address     varchar(100) NOT NULL,
    city        varchar(50) NOT NULL,
    is_favorite boolean NOT NULL DEFAULT false
);
CREATE INDEX addresses_user_id_idx ON addresses (user_id);

CREATE TABLE delivery_quotes (
    id               text PRIMARY KEY,
    client_id        text NOT NULL REFERENCES users(userid) ON DELETE RESTRICT,
    pickup_address   text NOT NULL,
    delivery_address text NOT NULL,
    category_id      text NOT NULL REFERENCES delivery_categories(id) ON DELETE RESTRICT,
    description      text,
    observations     text NOT NULL DEFAULT '[]',
    vehicle_type_id  text REFERENCES vehicle_types(id) ON DELETE SET NULL,
    estimated_weight text,
    estimated_size   varchar(100),
    client_price     text NOT NULL CHECK (CAST(client_price AS REAL) > 0),
    payment_method   text NOT NULL DEFAULT 'efectivo' CHECK (payment_method IN ('efectivo','nequi')),
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','accepted','cancelled')),
    created_at       datetime NOT NULL,
    expires_at       datetime NOT NULL,
    history_id       text NOT NULL UNIQUE
);
CREATE INDEX delivery_quotes_client_id_idx ON delivery_quotes (client_id);
CREATE INDEX delivery_quotes_expires_at_idx ON delivery_quotes (expires_at);
CREATE INDEX delivery_quotes_status_idx ON delivery_quotes (status);

CREATE TABLE delivery_offers (
    id                      text PRIMARY KEY,
    delivery_person_id      text NOT NULL REFERENCES users(userid) ON DELETE RESTRICT,
    quote_id                text NOT NULL REFERENCES delivery_quotes(id) ON DELETE CASCADE,
    proposed_price          text NOT NULL CHECK (CAST(proposed_price AS REAL) > 0),
    estimated_delivery_time bigint,
    vehicle_id              text REFERENCES vehicles(vehicle_id) ON DELETE SET NULL,
    status                  text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','accepted','rejected')),
    created_at              datetime NOT NULL,
    updated_at              datetime NOT NULL,
    expires_at              datetime NOT NULL,
    CONSTRAINT delivery_offers_person_quote_key UNIQUE (delivery_person_id, quote_id)
);
CREATE INDEX delivery_offers_quote_id_idx ON delivery_offers (quote_id);
CREATE INDEX delivery_offers_expires_at_idx ON delivery_offers (expires_at);

CREATE TABLE deliveries (
    id                 text PRIMARY KEY,
    client_id          text NOT NULL REFERENCES users(userid) ON DELETE RESTRICT,
    delivery_person_id text REFERENCES users(userid) ON DELETE RESTRICT,
    pickup_address     text NOT NULL,
    delivery_address   text NOT NULL,
    category_id        text NOT NULL REFERENCES delivery_categories(id) ON DELETE RESTRICT,
    description        text,
    observations       text NOT NULL DEFAULT '[]',
    estimated_weight   text,
    estimated_size     varchar(100),
    payment_method     text NOT NULL DEFAULT 'efectivo' CHECK (payment_method IN ('efectivo','nequi')),
    vehicle_type_id    text REFERENCES vehicle_types(id) ON DELETE SET NULL,
    vehicle_type_name  text,
    final_price        text NOT NULL,
    vehicle_id         text REFERENCES vehicles(vehicle_id) ON DELETE SET NULL,
    status             text NOT NULL DEFAULT 'assigned' CHECK (status IN ('assigned','picked_up','in_transit','delivered','paid','cancelled')),
    created_at         datetime NOT NULL,
    updated_at         datetime NOT NULL,
    completed_at       datetime,
    cancelled_at       datetime,
    history_id         text NOT NULL UNIQUE
);
CREATE INDEX deliveries_status_idx ON deliveries (status);
CREATE INDEX deliveries_client_id_idx ON deliveries (client_id);
CREATE INDEX deliveries_delivery_person_id_idx ON deliveries (delivery_person_id);

CREATE TABLE delivery_history (
    id          text PRIMARY KEY,
    history_id  text NOT NULL,
    event_type  text NOT NULL CHECK (event_type IN ('quote_created','offer_made','offer_accepted','offer_rejected','status_changed','cancelled','completed')),
    description text NOT NULL DEFAULT '',
    changed_by  text REFERENCES users(userid) ON DELETE RESTRICT,
    created_at  datetime NOT NULL
);
CREATE INDEX delivery_history_history_id_idx ON delivery_history (history_id);
CREATE INDEX delivery_history_event_type_idx ON delivery_history (event_type);

CREATE TABLE user_rating (
    id          text PRIMARY KEY,
    ratee_id    text NOT NULL REFERENCES users(userid) ON DELETE RESTRICT,
    rater_id    text NOT NULL REFERENCES users(userid) ON DELETE RESTRICT,
    delivery_id text NOT NULL REFERENCES deliveries(id) ON DELETE RESTRICT,
    rating      integer NOT NULL CHECK (rating BETWEEN 0 AND 10),
    comment     varchar(1000),
    created_at  datetime NOT NULL,
    CONSTRAINT user_rating_rater_delivery_key UNIQUE (rater_id, delivery_id)
);
CREATE INDEX user_rating_ratee_id_idx ON user_rating (ratee_id);

CREATE TABLE webhook_events (
    svix_id     text PRIMARY KEY,
    event_type  text NOT NULL,
    received_at datetime NOT NULL
);
CREATE INDEX webhook_events_received_at_idx ON webhook_events (received_at);

CREATE TABLE outbox_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    group_name   text NOT NULL,
    event_type   text NOT NULL,
    payload      text NOT NULL,
    created_at   datetime NOT NULL,
    published_at datetime
);
CREATE INDEX outbox_events_unpublished_idx ON outbox_events (id) WHERE published_at IS NULL;

CREATE TABLE staff_accounts (
    id            text PRIMARY KEY,
    username      varchar(150) NOT NULL UNIQUE,
    password_hash text NOT NULL,
    is_active     boolean NOT NULL DEFAULT true,
    created_at    datetime NOT NULL,
    last_login_at datetime
);

-- +goose Down
DROP TABLE staff_accounts;
DROP TABLE outbox_events;
DROP TABLE webhook_events;
DROP TABLE user_rating;
DROP TABLE delivery_history;
DROP TABLE deliveries;
DROP TABLE delivery_offers;
DROP TABLE delivery_quotes;
DROP TABLE addresses;
DROP TABLE users;
DROP TABLE vehicles;
DROP TABLE vehicle_type_categories;
DROP TABLE vehicle_types;
DROP TABLE delivery_categories;
