// Command djangogen fills an empty PostgreSQL database with a Django-shaped
// data set of the original backend (its schema, then rows written directly
// with COPY), sized for measuring `web import-django`:
//
//	djangogen -db postgres://…/django_bench -users 100000 -quotes 300000 -history 1000000
//
// The other tables follow in proportion (see counts below). Rows obey what
// the old backend wrote (enums, durations without months, JSON lists of
// strings, unique plates and VINs, one offer per driver and quote), and a
// share of the old shapes: quotes and offers without expires_at, deliveries
// whose quote is gone, ratings between users who shared no delivery. The
// same -seed gives the same rows. See bench/README.md.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"math/big"
	"math/rand/v2"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// num is a numeric(…, 2) value for COPY (binary format).
func num(units, cents int) pgtype.Numeric {
	return pgtype.Numeric{Int: big.NewInt(int64(units)*100 + int64(cents)), Exp: -2, Valid: true}
}

type gen struct {
	rng  *rand.Rand
	conn *pgx.Conn
	log  *slog.Logger
	base time.Time

	cats, types []([16]byte)
	clients     []string
	drivers     []string
	driverCar   map[string][16]byte
	vehicleType map[[16]byte][16]byte
}

func main() {
	dbURL := flag.String("db", "", "URL of an empty PostgreSQL database (required)")
	schema := flag.String("schema", "pkg/djangoimport/testdata/schema.sql", "the Django schema (pg_dump --schema-only)")
	users := flag.Int("users", 100000, "users")
	quotes := flag.Int("quotes", 300000, "quotes")
	history := flag.Int("history", 1000000, "history rows")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if *dbURL == "" {
		fmt.Fprintln(os.Stderr, "usage: djangogen -db postgres://… [-users N] [-quotes N] [-history N]")
		os.Exit(2)
	}
	if err := run(context.Background(), log, *dbURL, *schema, *users, *quotes, *history, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "djangogen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger, dbURL, schema string, users, quotes, history int, seed uint64) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	sql, err := os.ReadFile(schema)
	if err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, string(sql)); err != nil {
		return fmt.Errorf("schema (the database must be empty): %w", err)
	}
	if _, err := conn.Exec(ctx, `SET search_path = public`); err != nil {
		return err
	}
	g := &gen{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), conn: conn, log: log,
		base: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), driverCar: map[string][16]byte{}, vehicleType: map[[16]byte][16]byte{}}
	start := time.Now()
	if err := g.reference(ctx); err != nil {
		return err
	}
	if err := g.usersAndVehicles(ctx, users); err != nil {
		return err
	}
	if err := g.addresses(ctx, users*3/2); err != nil {
		return err
	}
	quoteRows, err := g.quotesAndOffers(ctx, quotes)
	if err != nil {
		return err
	}
	deliveries, err := g.deliveries(ctx, quotes/2, quoteRows)
	if err != nil {
		return err
	}
	if err := g.history(ctx, history, deliveries, quoteRows); err != nil {
		return err
	}
	if err := g.ratings(ctx, users, deliveries); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, `ANALYZE`); err != nil {
		return err
	}
	log.Info("generated", "seconds", time.Since(start).Seconds())
	return nil
}

func (g *gen) uuid() [16]byte {
	var u [16]byte
	a, b := g.rng.Uint64(), g.rng.Uint64()
	for i := 0; i < 8; i++ {
		u[i], u[8+i] = byte(a>>(8*i)), byte(b>>(8*i))
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

func (g *gen) pick(xs []string) string { return xs[g.rng.IntN(len(xs))] }

func (g *gen) at(maxDays int) time.Time {
	return g.base.Add(time.Duration(g.rng.Int64N(int64(maxDays)*86400e6)) * time.Microsecond)
}

// copyRows COPYs n generated rows into a Django table in one transaction.
func (g *gen) copyRows(ctx context.Context, table string, cols []string, n int, row func(i int) []any) error {
	start := time.Now()
	tx, err := g.conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background())
	i := 0
	_, err = tx.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromFunc(func() ([]any, error) {
		if i >= n {
			return nil, nil
		}
		i++
		return row(i - 1), nil
	}))
	if err != nil {
		return fmt.Errorf("%s: %w", table, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("%s: %w", table, err)
	}
	g.log.Info("table", "name", table, "rows", n, "seconds", time.Since(start).Seconds())
	return nil
}

var (
	catNames  = []string{"Comida", "Paquetes", "Documentos", "Personas", "Mercado", "Farmacia"} // the old seed and a staff-made one
	typeNames = []string{"Moto", "Carro", "Motocarro"}
	firsts    = []string{"Valentina", "Sebastián", "Camila", "Óscar", "Nicolás", "Laura Sofía", "Andrés", "María José", "Juan Pablo", "Daniela"}
	lasts     = []string{"Rueda Ordóñez", "Muñoz Castañeda", "Peña Gómez", "Gutiérrez Peñaloza", "Quiñones Patiño", "Hernández Niño"}
	cities    = []string{"Bogotá", "Medellín", "Cali", "Barranquilla", "Bucaramanga"}
	streets   = []string{"Calle 45 # 12-30", "Carrera 7 # 80-15", "Avenida 68 # 23-45", "Transversal 3 # 9-10"}
	brands    = []string{"Yamaha", "Honda", "Bajaj", "Renault", "Chevrolet", "Suzuki"}
	docState  = []string{"pending", "approved", "rejected"}
	notes     = []string{"Papeles al día", "SOAT vence pronto", "Falta revisión técnico-mecánica"}
	obs       = []string{"Frágil", "Tocar el timbre", "Pagar con billete de 50", "Edificio sin ascensor", "Llamar al llegar 📞"}
)

func (g *gen) reference(ctx context.Context) error {
	now := g.base
	for range catNames {
		g.cats = append(g.cats, g.uuid())
	}
	for range typeNames {
		g.types = append(g.types, g.uuid())
	}
	if err := g.copyRows(ctx, "deliveries_deliverycategory", []string{"id", "name", "description", "is_active", "created_at", "updated_at"},
		len(catNames), func(i int) []any {
			var desc any = "Categoría " + catNames[i]
			if i == 5 {
				desc = nil
			}
			return []any{g.cats[i], catNames[i], desc, true, now, now}
		}); err != nil {
		return err
	}
	if err := g.copyRows(ctx, "vehicles_vehicletype", []string{"id", "name", "description", "max_weight_capacity_kg",
		"max_volume_capacity_liters", "passenger_capacity", "image", "is_active", "created_at", "updated_at"},
		len(typeNames), func(i int) []any {
			return []any{g.types[i], typeNames[i], nil, nil, nil, nil, nil, true, now, now}
		}); err != nil {
		return err
	}
	var links [][2]int
	for t := range typeNames {
		for c := range catNames {
			if t == 0 || c != 0 {
				links = append(links, [2]int{t, c})
			}
		}
	}
	return g.copyRows(ctx, "vehicles_vehicletype_delivery_categories", []string{"id", "vehicletype_id", "deliverycategory_id"},
		len(links), func(i int) []any { return []any{int64(i + 1), g.types[links[i][0]], g.cats[links[i][1]]} })
}

// usersAndVehicles: 60 % clients, 35 % drivers (each with a vehicle, one in
// ten with two), 5 % without a role; one transaction, since users and
// vehicles reference each other (deferred foreign keys).
func (g *gen) usersAndVehicles(ctx context.Context, n int) error {
	type user struct {
		id, role string
		car      any
	}
	us := make([]user, n)
	type vehicle struct {
		id    [16]byte
		owner string
	}
	var vs []vehicle
	for i := range us {
		us[i].id = fmt.Sprintf("user_2%026d", i)
		switch r := g.rng.IntN(100); {
		case r < 60:
			us[i].role = "client"
			g.clients = append(g.clients, us[i].id)
		case r < 95:
			us[i].role = "delivery"
			g.drivers = append(g.drivers, us[i].id)
			cars := 1 + g.rng.IntN(10)/9
			for c := 0; c < cars; c++ {
				v := vehicle{id: g.uuid(), owner: us[i].id}
				vs = append(vs, v)
				if c == 0 {
					g.driverCar[us[i].id] = v.id
					if g.rng.IntN(10) < 8 {
						us[i].car = v.id
					}
				}
			}
		}
	}
	tx, err := g.conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background())
	start := time.Now()
	i := 0
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"users_user"}, []string{"userid", "username", "first_name", "last_name", "email",
		"image_url", "gender", "phone", "age", "role", "is_online", "is_available", "current_vehicle_id", "password"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i >= len(us) {
				return nil, nil
			}
			u := us[i]
			i++
			var username, first, last, email, gender, phone, age, role any
			if g.rng.IntN(20) > 0 {
				username = fmt.Sprintf("u%d", i)
				first, last = g.pick(firsts), g.pick(lasts)
				email = fmt.Sprintf("u%d@example.com", i)
				gender = []string{"male", "female", "other"}[g.rng.IntN(3)]
				phone = fmt.Sprintf("3%09d", g.rng.IntN(1e9))
				age = int32(18 + g.rng.IntN(50))
			}
			if u.role != "" {
				role = u.role
			}
			return []any{u.id, username, first, last, email, "https://img.clerk.com/" + u.id, gender, phone, age, role,
				g.rng.IntN(2) == 0, u.role == "delivery" && g.rng.IntN(2) == 0, u.car, nil}, nil
		}))
	if err != nil {
		return fmt.Errorf("users_user: %w", err)
	}
	g.log.Info("table", "name", "users_user", "rows", len(us), "seconds", time.Since(start).Seconds())
	start = time.Now()
	i = 0
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"vehicles_vehicle"}, []string{"vehicleId", "type_id", "brand", "model", "year",
		"licensePlate", "vin", "color", "driverLicenseStatus", "registrationCardStatus", "insurancePolicyStatus",
		"criminalRecordStatus", "isVerified", "verificationNotes", "userId_id"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i >= len(vs) {
				return nil, nil
			}
			v := vs[i]
			i++
			t := g.types[g.rng.IntN(len(g.types))]
			g.vehicleType[v.id] = t
			verified := g.rng.IntN(2) == 0
			var note any
			if g.rng.IntN(3) == 0 {
				note = g.pick(notes)
			}
			return []any{v.id, t, g.pick(brands), "Modelo", int32(2005 + g.rng.IntN(20)), fmt.Sprintf("P%07d", i),
				fmt.Sprintf("V%016d", i), "Rojo", g.pick(docState), g.pick(docState), g.pick(docState), g.pick(docState),
				verified, note, v.owner}, nil
		}))
	if err != nil {
		return fmt.Errorf("vehicles_vehicle: %w", err)
	}
	g.log.Info("table", "name", "vehicles_vehicle", "rows", len(vs), "seconds", time.Since(start).Seconds())
	return tx.Commit(ctx)
}

func (g *gen) addresses(ctx context.Context, n int) error {
	users := append(append([]string{}, g.clients...), g.drivers...)
	return g.copyRows(ctx, "addresses_address", []string{"addressId", "address", "city", "userId_id", "description", "type", "name", "isFavorite"},
		n, func(i int) []any {
			desc := ""
			if g.rng.IntN(2) == 0 {
				desc = "Apto 502, torre B"
			}
			return []any{g.uuid(), g.pick(streets), g.pick(cities), users[i%len(users)], desc,
				[]string{"casa", "trabajo", "edificio"}[g.rng.IntN(3)], "Mi dirección", g.rng.IntN(4) == 0}
		})
}

type quoteRow struct {
	id, history [16]byte
	client      string
	status      string
	payment     string
	vtype       any
}

func (g *gen) observations() string {
	var o []string
	for k := g.rng.IntN(3); k > 0; k-- {
		o = append(o, g.pick(obs))
	}
	if o == nil {
		return "[]"
	}
	b, _ := json.Marshal(o)
	return string(b)
}

// quotesAndOffers: 70 % pending (most expired), 20 % cancelled, 10 %
// accepted (kept by older code); 5 % without expires_at; about one offer per
// quote from distinct drivers.
func (g *gen) quotesAndOffers(ctx context.Context, n int) ([]quoteRow, error) {
	qs := make([]quoteRow, n)
	for i := range qs {
		q := &qs[i]
		q.id, q.history, q.client = g.uuid(), g.uuid(), g.pick(g.clients)
		switch r := g.rng.IntN(10); {
		case r < 7:
			q.status = "pending"
		case r < 9:
			q.status = "cancelled"
		default:
			q.status = "accepted"
		}
		q.payment = []string{"efectivo", "nequi"}[g.rng.IntN(2)]
		if g.rng.IntN(3) == 0 {
			q.vtype = g.types[g.rng.IntN(len(g.types))]
		}
	}
	created := make([]time.Time, n)
	err := g.copyRows(ctx, "deliveries_deliveryquote", []string{"id", "description", "estimated_weight", "estimated_size",
		"client_price", "status", "category_id", "client_id", "delivery_address_id", "pickup_address_id", "history_id",
		"delivery_address", "observations", "payment_method", "pickup_address", "created_at", "vehicle_type_id", "expires_at"},
		n, func(i int) []any {
			q := qs[i]
			c := g.at(270)
			created[i] = c
			var exp any = c.Add(10 * time.Minute)
			if g.rng.IntN(20) == 0 {
				exp = nil
			}
			return []any{q.id, "Un paquete", num(g.rng.IntN(20), 50), "mediano", num(3000+g.rng.IntN(40000), 0),
				q.status, g.cats[g.rng.IntN(len(g.cats))], q.client, nil, nil, q.history, g.pick(streets),
				g.observations(), q.payment, g.pick(streets) + " sur", c, q.vtype, exp}
		})
	if err != nil {
		return nil, err
	}
	type offer struct {
		quote  int
		driver string
	}
	var offers []offer
	for i := range qs {
		k := g.rng.IntN(3) // 0, 1 or 2 offers
		seen := map[string]bool{}
		for j := 0; j < k; j++ {
			d := g.pick(g.drivers)
			if !seen[d] {
				seen[d] = true
				offers = append(offers, offer{i, d})
			}
		}
	}
	err = g.copyRows(ctx, "deliveries_deliveryoffer", []string{"id", "proposed_price", "estimated_delivery_time", "status",
		"created_at", "updated_at", "delivery_person_id", "quote_id", "vehicle_id", "expires_at"},
		len(offers), func(i int) []any {
			o := offers[i]
			c := created[o.quote].Add(time.Duration(1+g.rng.IntN(300)) * time.Second)
			var exp any = c.Add(4 * time.Minute)
			if g.rng.IntN(20) == 0 {
				exp = nil
			}
			status := "pending"
			if qs[o.quote].status == "accepted" && i%2 == 0 {
				status = "accepted"
			} else if g.rng.IntN(10) == 0 {
				status = "rejected"
			}
			var car any
			if v, ok := g.driverCar[o.driver]; ok && g.rng.IntN(4) > 0 {
				car = v
			}
			dur := pgtype.Interval{Microseconds: int64(5*60+g.rng.IntN(50*60)) * 1e6, Valid: true}
			if g.rng.IntN(50) == 0 {
				dur = pgtype.Interval{Days: 1, Microseconds: (2*3600+3*60+4)*1e6 + 500000, Valid: true} // 1 day 02:03:04.5
			}
			return []any{g.uuid(), num(3000+g.rng.IntN(40000), 0), dur, status, c, c, o.driver, qs[o.quote].id, car, exp}
		})
	return qs, err
}

type deliveryRow struct {
	id, history    [16]byte
	client, driver string
	status         string
	created        time.Time
}

// deliveries: the accepted quotes' lifecycles plus ones whose quote is gone.
func (g *gen) deliveries(ctx context.Context, n int, qs []quoteRow) ([]deliveryRow, error) {
	ds := make([]deliveryRow, n)
	statuses := []string{"paid", "paid", "paid", "delivered", "delivered", "in_transit", "picked_up", "assigned", "cancelled"}
	var accepted []int
	for i, q := range qs {
		if q.status == "accepted" {
			accepted = append(accepted, i)
		}
	}
	for i := range ds {
		d := &ds[i]
		d.id, d.history, d.client = g.uuid(), g.uuid(), g.pick(g.clients)
		if i < len(accepted) {
			q := qs[accepted[i]]
			d.history, d.client = q.history, q.client
		}
		d.driver = g.pick(g.drivers)
		d.status = statuses[g.rng.IntN(len(statuses))]
		d.created = g.at(270)
	}
	err := g.copyRows(ctx, "deliveries_delivery", []string{"id", "description", "estimated_weight", "estimated_size", "final_price",
		"status", "created_at", "updated_at", "completed_at", "cancelled_at", "history_id", "category_id", "client_id",
		"delivery_address", "delivery_person_id", "pickup_address", "vehicle_id", "observations"},
		n, func(i int) []any {
			d := ds[i]
			var completed, cancelled, car any
			upd := d.created.Add(30 * time.Minute)
			if d.status == "delivered" || d.status == "paid" {
				completed = d.created.Add(25 * time.Minute)
			}
			if d.status == "cancelled" {
				cancelled = upd
			}
			if v, ok := g.driverCar[d.driver]; ok && g.rng.IntN(5) == 0 {
				car = v
			}
			return []any{d.id, nil, nil, nil, num(3000+g.rng.IntN(40000), 0), d.status, d.created, upd, completed,
				cancelled, d.history, g.cats[g.rng.IntN(len(g.cats))], d.client, g.pick(streets), d.driver, g.pick(streets) + " sur",
				car, g.observations()}
		})
	return ds, err
}

func (g *gen) history(ctx context.Context, n int, ds []deliveryRow, qs []quoteRow) error {
	events := []string{"offer_made", "offer_accepted", "offer_accepted", "status_changed", "status_changed", "status_changed", "cancelled", "offer_rejected"}
	return g.copyRows(ctx, "deliveries_deliveryhistory", []string{"id", "history_id", "event_type", "description", "created_at", "changed_by_id"},
		n, func(i int) []any {
			var hist [16]byte
			var who string
			var at time.Time
			if i%4 != 3 { // three in four rows belong to deliveries
				d := ds[g.rng.IntN(len(ds))]
				hist, at = d.history, d.created
				who = d.client
				if g.rng.IntN(2) == 0 {
					who = d.driver
				}
			} else {
				q := qs[g.rng.IntN(len(qs))]
				hist, who, at = q.history, q.client, g.at(270)
			}
			ev := events[g.rng.IntN(len(events))]
			return []any{g.uuid(), hist, ev, "Estado cambiado de assigned a picked_up", at.Add(time.Duration(i%600) * time.Second), who}
		})
}

// ratings: one in ten users' worth; most between the two sides of a finished
// delivery, some between users who shared none.
func (g *gen) ratings(ctx context.Context, users int, ds []deliveryRow) error {
	var done []deliveryRow
	for _, d := range ds {
		if d.status == "paid" || d.status == "delivered" {
			done = append(done, d)
		}
	}
	n := users
	return g.copyRows(ctx, "user_rating", []string{"id", "rating", "comment", "ratee_id", "rater_id", "created_at"},
		n, func(i int) []any {
			var rater, ratee string
			at := g.at(270)
			if i%10 != 9 && len(done) > 0 {
				d := done[g.rng.IntN(len(done))]
				rater, ratee, at = d.client, d.driver, d.created.Add(time.Hour)
				if g.rng.IntN(2) == 0 {
					rater, ratee = ratee, rater
				}
			} else {
				rater, ratee = g.pick(g.clients), g.pick(g.drivers)
			}
			var comment any = "Muy buen servicio 👍"
			if g.rng.IntN(3) == 0 {
				comment = nil
			}
			return []any{g.uuid(), int32(g.rng.IntN(11)), comment, ratee, rater, at}
		})
}
