package ws_test

import (
	"context"
	"errors"
	"net"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/shopspring/decimal"

	"hermez/pkg/app"
	"hermez/pkg/auth"
	"hermez/pkg/config"
	"hermez/pkg/realtime"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
	"hermez/pkg/ws"
)

// worker is a worker process behind httptest.
type worker struct {
	URL    string
	W      *app.Worker
	Store  *store.Store
	Config config.Config
	Broker *app.Broker
	cancel context.CancelFunc
	srv    *httptest.Server
}

// startWorker runs BuildWorker on st and broker (an in-process broker when nil).
func startWorker(t testing.TB, st *store.Store, broker *app.Broker, o app.WorkerOptions, edit ...func(*config.Config)) *worker {
	t.Helper()
	cfg := testutil.Config(t)
	if st.Dialect == store.Postgres {
		cfg.DatabaseURL = "postgres://test"
	}
	for _, e := range edit {
		e(&cfg)
	}
	if broker == nil {
		m := realtime.NewMemory()
		broker = &app.Broker{Publisher: m, Memory: m}
	}
	ctx, cancel := context.WithCancel(context.Background())
	w, err := app.BuildWorker(ctx, cfg, testutil.Logger(), st, broker, o)
	if err != nil {
		cancel()
		t.Fatalf("build worker: %v", err)
	}
	for _, run := range w.Background {
		go run(ctx)
	}
	srv := httptest.NewServer(w.Handler)
	wk := &worker{URL: srv.URL, W: w, Store: st, Config: cfg, Broker: broker, cancel: cancel, srv: srv}
	t.Cleanup(wk.stop)
	return wk
}

func (w *worker) stop() {
	sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
	defer c()
	w.W.Hub.Shutdown(sctx)
	w.cancel()
	w.srv.Close()
}

func (w *worker) token(t testing.TB, userid string) string {
	t.Helper()
	tok, err := w.W.Dev.Mint(userid, auth.TokenOptions{Name: "Test " + userid, Email: userid + "@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// memory is the worker's in-process broker (to publish into it).
func memoryOf(t testing.TB, b *app.Broker) *realtime.Memory {
	t.Helper()
	if b == nil || b.Memory == nil {
		t.Fatal("no in-process broker")
	}
	return b.Memory
}

// The socket helpers are testutil's (shared with the console's tests).
var (
	wsURL     = testutil.SocketURL
	dial      = testutil.DialSocket // the token as the only subprotocol, as the frontend does
	read      = testutil.ReadFrame  // one text frame as a JSON object within a timeout
	closeCode = testutil.CloseCode  // the close code (1006 without a close frame) and reason
)

// mustDial dials and fails the test on error.
func mustDial(t testing.TB, base, path, token string) *websocket.Conn {
	t.Helper()
	c, res, err := dial(t, base, path, token)
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		t.Fatalf("dial %s: %v (status %d)", path, err, status)
	}
	return c
}

// expectSilence fails if a frame arrives within d.
func expectSilence(t testing.TB, c *websocket.Conn, d time.Duration) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(d))
	_, b, err := c.ReadMessage()
	if err == nil {
		t.Fatalf("unexpected frame %s", b)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("socket ended: %v", err)
	}
}

func publish(t testing.TB, p realtime.Publisher, group, typ string, data any) realtime.Message {
	t.Helper()
	m, err := realtime.NewMessage(group, typ, data)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Publish(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	return m
}

// Rows inserted directly (the market API is built elsewhere).

type fixture struct {
	Client, Driver, Stranger string
	Quote                    store.Quote
	Offer                    store.Offer
	Active, Paid             store.Delivery
}

func str(s string) *string { return &s }

func addUser(t testing.TB, st *store.Store, id string) {
	t.Helper()
	now := store.Now()
	u := store.User{UserID: id, Username: str(id), FirstName: str("Nombre"), LastName: str(id), Email: str(id + "@example.com"),
		CreatedAt: now, UpdatedAt: now}
	if err := st.DB.Create(&u).Error; err != nil {
		t.Fatalf("user: %v", err)
	}
}

func category(t testing.TB, st *store.Store) uuid.UUID {
	t.Helper()
	var c store.Category
	if err := st.DB.Order("name").Take(&c).Error; err != nil {
		t.Fatalf("category: %v", err)
	}
	return c.ID
}

func addQuote(t testing.TB, st *store.Store, client string, created time.Time) store.Quote {
	t.Helper()
	q := store.Quote{ID: uuid.New(), ClientID: client, PickupAddress: "Carrera 33 # 42-18", DeliveryAddress: "Calle 56 # 17A-23",
		CategoryID: category(t, st), Description: str("Caja mediana"), Observations: store.StringList{"Frágil"},
		ClientPrice: decimal.RequireFromString("12000"), PaymentMethod: "efectivo", Status: store.QuotePending,
		CreatedAt: created, ExpiresAt: created.Add(10 * time.Minute), HistoryID: uuid.New()}
	if err := st.DB.Create(&q).Error; err != nil {
		t.Fatalf("quote: %v", err)
	}
	return q
}

func addOffer(t testing.TB, st *store.Store, q store.Quote, driver string) store.Offer {
	t.Helper()
	now := store.Now()
	et := int64(15 * time.Minute / time.Microsecond)
	o := store.Offer{ID: uuid.New(), DeliveryPersonID: driver, QuoteID: q.ID, ProposedPrice: decimal.RequireFromString("13500"),
		EstimatedDeliveryTime: &et, Status: store.OfferPending, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(4 * time.Minute)}
	if err := st.DB.Create(&o).Error; err != nil {
		t.Fatalf("offer: %v", err)
	}
	return o
}

func addDelivery(t testing.TB, st *store.Store, client, driver, status string, price string) store.Delivery {
	t.Helper()
	now := store.Now()
	d := store.Delivery{ID: uuid.New(), ClientID: client, DeliveryPersonID: &driver, PickupAddress: "Calle 48 # 33-12",
		DeliveryAddress: "Carrera 21 # 36-40", CategoryID: category(t, st), Observations: store.StringList{},
		PaymentMethod: "nequi", VehicleTypeName: str("Moto"), FinalPrice: decimal.RequireFromString(price), Status: status,
		CreatedAt: now, UpdatedAt: now, HistoryID: uuid.New()}
	if status == store.DeliveryPaid || status == store.DeliveryDelivered {
		d.CompletedAt = &now
	}
	if err := st.DB.Create(&d).Error; err != nil {
		t.Fatalf("delivery: %v", err)
	}
	return d
}

func newFixture(t testing.TB, st *store.Store) *fixture {
	t.Helper()
	f := &fixture{Client: "user_client_" + uuid.NewString()[:8], Driver: "user_driver_" + uuid.NewString()[:8],
		Stranger: "user_stranger_" + uuid.NewString()[:8]}
	for _, u := range []string{f.Client, f.Driver, f.Stranger} {
		addUser(t, st, u)
	}
	f.Quote = addQuote(t, st, f.Client, store.Now())
	f.Offer = addOffer(t, st, f.Quote, f.Driver)
	f.Active = addDelivery(t, st, f.Client, f.Driver, store.DeliveryInTransit, "13500")
	f.Paid = addDelivery(t, st, f.Client, f.Driver, store.DeliveryPaid, "9000")
	return f
}

var _ = ws.Options{}

func testContext(t testing.TB, d time.Duration) (context.Context, context.CancelFunc) {
	t.Helper()
	return context.WithTimeout(context.Background(), d)
}

// joined waits until group has n local sockets on w and the broker delivers
// the group's frames to w: the hub sent the subscription (the in-process
// broker has it then) and, on one Redis, Redis has read the SUBSCRIBE
// (PUBSUB NUMSUB counts a subscriber). A frame published before that is
// dropped, as Redis drops frames of channels nobody listens to.
func joined(t testing.TB, w *worker, group string, n int) {
	t.Helper()
	testutil.Eventually(t, wait, group+" joined", func() bool {
		if w.W.Hub.Members(group) != n || !w.W.Hub.Subscribed(group) {
			return false
		}
		if p, ok := w.Broker.Publisher.(*realtime.RedisPublisher); ok {
			got, err := p.Client.PubSubNumSub(context.Background(), p.Channel(group)).Result()
			return err == nil && got[p.Channel(group)] > 0
		}
		return true
	})
}

// value reads a counter or gauge.
func value(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}
