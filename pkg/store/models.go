package store

import (
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
)

// Enumerations of the data model.
const (
	QuotePending   = "pending"
	QuoteAccepted  = "accepted"
	QuoteCancelled = "cancelled"

	OfferPending  = "pending"
	OfferAccepted = "accepted"
	OfferRejected = "rejected"

	DeliveryAssigned  = "assigned"
	DeliveryPickedUp  = "picked_up"
	DeliveryInTransit = "in_transit"
	DeliveryDelivered = "delivered"
	DeliveryPaid      = "paid"
	DeliveryCancelled = "cancelled"

	HistoryQuoteCreated  = "quote_created"
	HistoryOfferMade     = "offer_made"
	HistoryOfferAccepted = "offer_accepted"
	HistoryOfferRejected = "offer_rejected"
	HistoryStatusChanged = "status_changed"
	HistoryCancelled     = "cancelled"
	HistoryCompleted     = "completed"

	// users.role: a user who posts quotes, a driver (NULL: not chosen yet).
	RoleClient   = "client"
	RoleDelivery = "delivery"
)

// User is an app account; its id is the Clerk user id.
type User struct {
	UserID           string     `gorm:"column:userid;primaryKey"`
	Username         *string    `gorm:"column:username"`
	FirstName        *string    `gorm:"column:first_name"`
	LastName         *string    `gorm:"column:last_name"`
	Email            *string    `gorm:"column:email"`
	ImageURL         *string    `gorm:"column:image_url"`
	Gender           *string    `gorm:"column:gender"`
	Phone            *string    `gorm:"column:phone"`
	Age              *int       `gorm:"column:age"`
	Role             *string    `gorm:"column:role"`
	IsOnline         bool       `gorm:"column:is_online"`
	IsAvailable      bool       `gorm:"column:is_available"`
	CurrentVehicleID *uuid.UUID `gorm:"column:current_vehicle_id"`
	CurrentVehicle   *Vehicle   `gorm:"foreignKey:CurrentVehicleID;references:VehicleID"`
	IsStaff          bool       `gorm:"column:is_staff"`
	DeletedAt        *time.Time `gorm:"column:deleted_at"`
	// SuspendedAt is set while staff have suspended the user (console.md
	// "Acting"): their token still authenticates, and authorizes nothing.
	SuspendedAt      *time.Time `gorm:"column:suspended_at"`
	SuspensionReason *string    `gorm:"column:suspension_reason"`
	ClerkUpdatedAt   *time.Time `gorm:"column:clerk_updated_at"`
	CreatedAt        time.Time  `gorm:"column:created_at"`
	UpdatedAt        time.Time  `gorm:"column:updated_at"`

	// Totals of the ratings received, kept by a database trigger on
	// user_rating (migration 00002); never written from Go. See RatingAverage.
	RatingCount int   `gorm:"column:rating_count;<-:false"`
	RatingSum   int64 `gorm:"column:rating_sum;<-:false"`
	// StatsVersion orders the user's person_stats frames (docs/realtime.md "Order"):
	// bumped in the transaction of each delivery they complete (migration 00003).
	StatsVersion int64 `gorm:"column:stats_version;<-:false"`
}

func (User) TableName() string { return "users" }

// AvailableDriver is place.md §5's "available driver" as far as the row
// tells: is_available, a current vehicle, neither suspended nor deleted (a
// fresh location is the location store's part).
func (u *User) AvailableDriver() bool {
	return u.IsAvailable && u.CurrentVehicleID != nil && u.SuspendedAt == nil && u.DeletedAt == nil
}

// Address belongs to one user.
type Address struct {
	AddressID   uuid.UUID `gorm:"column:address_id;primaryKey"`
	UserID      string    `gorm:"column:user_id"`
	Name        string    `gorm:"column:name"`
	Description string    `gorm:"column:description"`
	Type        string    `gorm:"column:type"`
	Address     string    `gorm:"column:address"`
	City        string    `gorm:"column:city"`
	IsFavorite  bool      `gorm:"column:is_favorite"`
	// Latitude and Longitude are the address's point (place.md §1): both or
	// neither, WGS84 degrees rounded to 6 decimals (migration 00006).
	Latitude  *float64 `gorm:"column:latitude"`
	Longitude *float64 `gorm:"column:longitude"`
}

func (Address) TableName() string { return "addresses" }

// Category is a delivery category (reference data).
type Category struct {
	ID          uuid.UUID `gorm:"column:id;primaryKey"`
	Name        string    `gorm:"column:name"`
	Description string    `gorm:"column:description"`
	IsActive    bool      `gorm:"column:is_active"`
	CreatedAt   time.Time `gorm:"column:created_at"`
	UpdatedAt   time.Time `gorm:"column:updated_at"`
}

func (Category) TableName() string { return "delivery_categories" }

// VehicleType is reference data; Categories is the many-to-many link.
type VehicleType struct {
	ID                      uuid.UUID       `gorm:"column:id;primaryKey"`
	Name                    string          `gorm:"column:name"`
	Description             string          `gorm:"column:description"`
	MaxWeightCapacityKg     decimal.Decimal `gorm:"column:max_weight_capacity_kg"`
	MaxVolumeCapacityLiters decimal.Decimal `gorm:"column:max_volume_capacity_liters"`
	PassengerCapacity       int             `gorm:"column:passenger_capacity"`
	Image                   *string         `gorm:"column:image"`
	IsActive                bool            `gorm:"column:is_active"`
	CreatedAt               time.Time       `gorm:"column:created_at"`
	UpdatedAt               time.Time       `gorm:"column:updated_at"`
	Categories              []Category      `gorm:"many2many:vehicle_type_categories;joinForeignKey:VehicleTypeID;joinReferences:CategoryID"`
}

func (VehicleType) TableName() string { return "vehicle_types" }

// VehicleTypeCategory is the join row of VehicleType.Categories.
type VehicleTypeCategory struct {
	VehicleTypeID uuid.UUID `gorm:"column:vehicle_type_id;primaryKey"`
	CategoryID    uuid.UUID `gorm:"column:category_id;primaryKey"`
}

func (VehicleTypeCategory) TableName() string { return "vehicle_type_categories" }

// Vehicle is a driver's vehicle; the verification fields are staff-only.
type Vehicle struct {
	VehicleID              uuid.UUID    `gorm:"column:vehicle_id;primaryKey"`
	UserID                 string       `gorm:"column:user_id"`
	TypeID                 uuid.UUID    `gorm:"column:type_id"`
	Type                   *VehicleType `gorm:"foreignKey:TypeID"`
	Brand                  string       `gorm:"column:brand"`
	Model                  string       `gorm:"column:model"`
	Year                   int          `gorm:"column:year"`
	LicensePlate           string       `gorm:"column:license_plate"`
	VIN                    string       `gorm:"column:vin"`
	Color                  string       `gorm:"column:color"`
	DriverLicenseStatus    string       `gorm:"column:driver_license_status"`
	RegistrationCardStatus string       `gorm:"column:registration_card_status"`
	InsurancePolicyStatus  string       `gorm:"column:insurance_policy_status"`
	CriminalRecordStatus   string       `gorm:"column:criminal_record_status"`
	IsVerified             bool         `gorm:"column:is_verified"`
	VerificationNotes      *string      `gorm:"column:verification_notes"`
	CreatedAt              time.Time    `gorm:"column:created_at"`
	UpdatedAt              time.Time    `gorm:"column:updated_at"`
}

func (Vehicle) TableName() string { return "vehicles" }

// Quote is a client's short-lived delivery request.
type Quote struct {
	ID              uuid.UUID        `gorm:"column:id;primaryKey"`
	ClientID        string           `gorm:"column:client_id"`
	Client          *User            `gorm:"foreignKey:ClientID;references:UserID"`
	PickupAddress   string           `gorm:"column:pickup_address"`
	DeliveryAddress string           `gorm:"column:delivery_address"`
	CategoryID      uuid.UUID        `gorm:"column:category_id"`
	Category        *Category        `gorm:"foreignKey:CategoryID"`
	Description     *string          `gorm:"column:description"`
	Observations    StringList       `gorm:"column:observations"`
	VehicleTypeID   *uuid.UUID       `gorm:"column:vehicle_type_id"`
	VehicleType     *VehicleType     `gorm:"foreignKey:VehicleTypeID"`
	EstimatedWeight *decimal.Decimal `gorm:"column:estimated_weight"`
	EstimatedSize   *string          `gorm:"column:estimated_size"`
	ClientPrice     decimal.Decimal  `gorm:"column:client_price"`
	PaymentMethod   string           `gorm:"column:payment_method"`
	Status          string           `gorm:"column:status"`
	// The pickup and delivery points (place.md §1): each pair both or
	// neither, WGS84 degrees rounded to 6 decimals (migration 00006).
	PickupLatitude    *float64 `gorm:"column:pickup_latitude"`
	PickupLongitude   *float64 `gorm:"column:pickup_longitude"`
	DeliveryLatitude  *float64 `gorm:"column:delivery_latitude"`
	DeliveryLongitude *float64 `gorm:"column:delivery_longitude"`
	// AutoAcceptLowest is the client's "accept the lowest offer automatically";
	// AutoAcceptAt when that happens: the first pending offer's created_at +
	// AUTO_ACCEPT_DELAY_SECONDS, nil while off or without one (place.md §7,
	// migration 00007).
	AutoAcceptLowest bool       `gorm:"column:auto_accept_lowest"`
	AutoAcceptAt     *time.Time `gorm:"column:auto_accept_at"`
	// Version orders the realtime frames about this row (docs/realtime.md "Order"):
	// 1 when created, bumped by every change in its transaction (migration 00003).
	Version   int64     `gorm:"column:version;default:1"`
	CreatedAt time.Time `gorm:"column:created_at"`
	ExpiresAt time.Time `gorm:"column:expires_at"`
	HistoryID uuid.UUID `gorm:"column:history_id"`
	Offers    []Offer   `gorm:"foreignKey:QuoteID"`
	// NearbyDrivers is place.md §5's count, filled by pkg/nearby before the
	// quote is rendered for its client (never stored; nil: not counted).
	NearbyDrivers *int `gorm:"-"`
}

func (Quote) TableName() string { return "delivery_quotes" }

// Offer is a driver's bid on a quote. EstimatedDeliveryTime is stored in
// microseconds (the representation Django used outside PostgreSQL).
//
// Driver is the delivery person (JSON "delivery_person"): a short relation
// name keeps GORM's join aliases within PostgreSQL's 63-byte identifiers
// (DeliveryPerson__CurrentVehicle__Type__max_volume_capacity_liters was 64
// bytes, cut at 63, and the field read zero).
type Offer struct {
	ID                    uuid.UUID       `gorm:"column:id;primaryKey"`
	DeliveryPersonID      string          `gorm:"column:delivery_person_id"`
	Driver                *User           `gorm:"foreignKey:DeliveryPersonID;references:UserID"`
	QuoteID               uuid.UUID       `gorm:"column:quote_id"`
	Quote                 *Quote          `gorm:"foreignKey:QuoteID"`
	ProposedPrice         decimal.Decimal `gorm:"column:proposed_price"`
	EstimatedDeliveryTime *int64          `gorm:"column:estimated_delivery_time"`
	VehicleID             *uuid.UUID      `gorm:"column:vehicle_id"`
	Vehicle               *Vehicle        `gorm:"foreignKey:VehicleID;references:VehicleID"`
	Status                string          `gorm:"column:status"`
	// Version orders the realtime frames about this row (docs/realtime.md "Order"):
	// 1 when created, bumped by every change in its transaction (migration 00003).
	Version   int64     `gorm:"column:version;default:1"`
	CreatedAt time.Time `gorm:"column:created_at"`
	UpdatedAt time.Time `gorm:"column:updated_at"`
	ExpiresAt time.Time `gorm:"column:expires_at"`
}

func (Offer) TableName() string { return "delivery_offers" }

// Why an offer cannot be accepted (AcceptOK: it can). The accept rule lives in
// one place, Offer.Acceptance: market answers each reason with its message
// (market.checkAccept), view renders can_accept from it; it is here, on the
// rows, because market renders its frames with view and view cannot import
// market.
const (
	AcceptOK = iota
	AcceptOfferNotPending
	AcceptQuoteNotPending
	AcceptQuoteExpired
	AcceptOfferExpired
)

// Acceptance says whether o, an offer on q, can be accepted at now: both
// pending, neither expired (an expiry at or before now has passed). Who may
// accept (the quote's client) is the caller's check.
func (o *Offer) Acceptance(q *Quote, now time.Time) int {
	switch {
	case o.Status != OfferPending:
		return AcceptOfferNotPending
	case q.Status != QuotePending:
		return AcceptQuoteNotPending
	case !now.Before(q.ExpiresAt):
		return AcceptQuoteExpired
	case !now.Before(o.ExpiresAt):
		return AcceptOfferExpired
	}
	return AcceptOK
}

// Delivery is permanent: born when a client accepts an offer.
// Driver is the delivery person, named short as Offer.Driver.
type Delivery struct {
	ID               uuid.UUID        `gorm:"column:id;primaryKey"`
	ClientID         string           `gorm:"column:client_id"`
	Client           *User            `gorm:"foreignKey:ClientID;references:UserID"`
	DeliveryPersonID *string          `gorm:"column:delivery_person_id"`
	Driver           *User            `gorm:"foreignKey:DeliveryPersonID;references:UserID"`
	PickupAddress    string           `gorm:"column:pickup_address"`
	DeliveryAddress  string           `gorm:"column:delivery_address"`
	CategoryID       uuid.UUID        `gorm:"column:category_id"`
	Category         *Category        `gorm:"foreignKey:CategoryID"`
	Description      *string          `gorm:"column:description"`
	Observations     StringList       `gorm:"column:observations"`
	EstimatedWeight  *decimal.Decimal `gorm:"column:estimated_weight"`
	EstimatedSize    *string          `gorm:"column:estimated_size"`
	PaymentMethod    string           `gorm:"column:payment_method"`
	VehicleTypeID    *uuid.UUID       `gorm:"column:vehicle_type_id"`
	VehicleTypeName  *string          `gorm:"column:vehicle_type_name"`
	FinalPrice       decimal.Decimal  `gorm:"column:final_price"`
	VehicleID        *uuid.UUID       `gorm:"column:vehicle_id"`
	Status           string           `gorm:"column:status"`
	// The four coordinates of its quote, copied at accept (place.md §2).
	PickupLatitude    *float64 `gorm:"column:pickup_latitude"`
	PickupLongitude   *float64 `gorm:"column:pickup_longitude"`
	DeliveryLatitude  *float64 `gorm:"column:delivery_latitude"`
	DeliveryLongitude *float64 `gorm:"column:delivery_longitude"`
	// Version orders the realtime frames about this row (docs/realtime.md "Order"):
	// 1 when created, bumped by every change in its transaction (migration 00003).
	Version     int64      `gorm:"column:version;default:1"`
	CreatedAt   time.Time  `gorm:"column:created_at"`
	UpdatedAt   time.Time  `gorm:"column:updated_at"`
	CompletedAt *time.Time `gorm:"column:completed_at"`
	CancelledAt *time.Time `gorm:"column:cancelled_at"`
	HistoryID   uuid.UUID  `gorm:"column:history_id"`
}

func (Delivery) TableName() string { return "deliveries" }

// HistoryEvent is one append-only entry of a quote → delivery lifecycle.
type HistoryEvent struct {
	ID          uuid.UUID `gorm:"column:id;primaryKey"`
	HistoryID   uuid.UUID `gorm:"column:history_id"`
	EventType   string    `gorm:"column:event_type"`
	Description string    `gorm:"column:description"`
	ChangedByID *string   `gorm:"column:changed_by"`
	ChangedBy   *User     `gorm:"foreignKey:ChangedByID;references:UserID"`
	CreatedAt   time.Time `gorm:"column:created_at"`
}

func (HistoryEvent) TableName() string { return "delivery_history" }

// Rating is one side's rating of the other after a shared delivery.
type Rating struct {
	ID         uuid.UUID  `gorm:"column:id;primaryKey"`
	RateeID    string     `gorm:"column:ratee_id"`
	Ratee      *User      `gorm:"foreignKey:RateeID;references:UserID"`
	RaterID    string     `gorm:"column:rater_id"`
	Rater      *User      `gorm:"foreignKey:RaterID;references:UserID"`
	DeliveryID *uuid.UUID `gorm:"column:delivery_id"` // nil only for ratings imported from the old system (it named no delivery)
	Rating     int        `gorm:"column:rating"`
	Comment    *string    `gorm:"column:comment"`
	CreatedAt  time.Time  `gorm:"column:created_at"`
}

func (Rating) TableName() string { return "user_rating" }

// DjangoImport records the runs of `web import-django` from one source (its
// host, port and database; never credentials). StartedAt of the first run is
// the time given to the fields the old rows lack.
type DjangoImport struct {
	Source     string     `gorm:"column:source;primaryKey"`
	StartedAt  time.Time  `gorm:"column:started_at"`
	FinishedAt *time.Time `gorm:"column:finished_at"` // last run that wrote rows and verified
}

func (DjangoImport) TableName() string { return "django_import" }

// WebhookEvent records an applied Svix message id (idempotency).
type WebhookEvent struct {
	SvixID     string    `gorm:"column:svix_id;primaryKey"`
	EventType  string    `gorm:"column:event_type"`
	ReceivedAt time.Time `gorm:"column:received_at"`
}

func (WebhookEvent) TableName() string { return "webhook_events" }

// OutboxEvent is the rendered realtime frames of one change (one frame for
// one group, or several in Frames), written in the transaction of the change
// and published after commit.
type OutboxEvent struct {
	ID          int64      `gorm:"column:id;primaryKey;autoIncrement"`
	GroupName   string     `gorm:"column:group_name"`
	EventType   string     `gorm:"column:event_type"`
	Payload     string     `gorm:"column:payload"`
	CreatedAt   time.Time  `gorm:"column:created_at"`
	PublishedAt *time.Time `gorm:"column:published_at"`
	// Resource, Version and Final are the frame's realtime.Message fields of
	// the same names (the order rule; empty/0 for frames outside it).
	Resource string `gorm:"column:resource"`
	Version  int64  `gorm:"column:version"`
	Final    bool   `gorm:"column:final"`
	// Frames, when set, holds all the frames of one change (a JSON array,
	// realtime's encoding) and the fields above are empty; Heads then lists
	// what they are about, for the relay. A change with one frame keeps it
	// in the fields above.
	Frames *string `gorm:"column:frames"`
	Heads  string  `gorm:"column:heads"`
}

func (OutboxEvent) TableName() string { return "outbox_events" }

// StaffAccount is a staff console login (username + password hash).
type StaffAccount struct {
	ID           uuid.UUID  `gorm:"column:id;primaryKey"`
	Username     string     `gorm:"column:username"`
	PasswordHash string     `gorm:"column:password_hash"`
	IsActive     bool       `gorm:"column:is_active"`
	CreatedAt    time.Time  `gorm:"column:created_at"`
	LastLoginAt  *time.Time `gorm:"column:last_login_at"`
}

func (StaffAccount) TableName() string { return "staff_accounts" }

// RunnerLease is the lease of the periodic jobs' runner (migration 00009):
// one process holds it until ExpiresAt and renews it while it runs them.
type RunnerLease struct {
	Name      string    `gorm:"column:name;primaryKey"`
	Holder    string    `gorm:"column:holder"`
	ExpiresAt time.Time `gorm:"column:expires_at"`
}

func (RunnerLease) TableName() string { return "runner_leases" }

// StaffAudit is one console action that changed data (append-only: the
// database refuses UPDATE and DELETE). Changes is JSON: field → [before, after].
type StaffAudit struct {
	ID             uuid.UUID     `gorm:"column:id;primaryKey"`
	At             time.Time     `gorm:"column:at"`
	StaffAccountID uuid.UUID     `gorm:"column:staff_account_id"`
	Staff          *StaffAccount `gorm:"foreignKey:StaffAccountID;references:ID"`
	ObjectKind     string        `gorm:"column:object_kind"`
	ObjectID       string        `gorm:"column:object_id"`
	Action         string        `gorm:"column:action"`
	Changes        string        `gorm:"column:changes"`
	Reason         *string       `gorm:"column:reason"`
}

func (StaffAudit) TableName() string { return "staff_audit" }

// AllModels lists every model, for the schema-agreement test.
func AllModels() []any {
	return []any{&User{}, &Address{}, &Category{}, &VehicleType{}, &VehicleTypeCategory{}, &Vehicle{},
		&Quote{}, &Offer{}, &Delivery{}, &HistoryEvent{}, &Rating{}, &DjangoImport{}, &WebhookEvent{}, &OutboxEvent{}, &StaffAccount{},
		&RunnerLease{}, &StaffAudit{}, &TrackPoint{}}
}

// TrackPoint is one sampled point of a delivery's trail (migration 00010,
// place.md §6).
type TrackPoint struct {
	DeliveryID uuid.UUID `gorm:"column:delivery_id;primaryKey"`
	RecordedAt time.Time `gorm:"column:recorded_at;primaryKey"`
	Latitude   float64   `gorm:"column:latitude"`
	Longitude  float64   `gorm:"column:longitude"`
}

func (TrackPoint) TableName() string { return "delivery_track" }
