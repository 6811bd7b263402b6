// Package market holds the marketplace rules: quotes, offers, deliveries,
// categories, history and expiry, each change in one transaction with its
// realtime events.
//
// The services take typed inputs (QuoteInput, OfferInput, CategoryInput, the
// minutes of an extension: inputs.go) and return rows (store.Quote,
// store.Offer, store.Delivery …) or plain result types (StatusChange,
// History). Decoding request bodies is the adapters' (pkg/marketinput, for
// pkg/httpapi and pkg/consoleweb); rendering answers and socket snapshots with
// pkg/view is theirs too (pkg/httpapi, pkg/ws). The guards are pure functions
// in rules.go.
//
// Who acts is the argument right after ctx, as in pkg/account: caller
// *store.User for an API user — the row the auth middleware already loaded
// (and cached), so no method reads it again, and its IsStaff flag is the
// API's staff check — or by *audit.Staff for the console's staff member
// (nil → 403). Not a context value: a reader sees from the signature who a
// method needs, the compiler makes every adapter pass it, and a test passes
// a plain value.
//
// The one rendering left here is of event frames, and it is why market
// imports pkg/view: a change writes its frames to the outbox inside its own
// transaction (realtime.Change), so they must exist as bytes before the
// commit. Rendering them in an adapter after the fact would reopen the window
// the outbox closes (a crash between commit and render loses the event).
// Each frame is rendered per audience (docs/realtime.md) from the rows the
// transaction already loaded.
package market
