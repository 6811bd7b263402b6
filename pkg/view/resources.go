package view

import (
	"time"

	"github.com/shopspring/decimal"

	"hermez/pkg/store"
)

// Viewer is who a rendering is for: the user id whose own email may be shown
// ("" for an audience of many, such as the new_quotes group).
type Viewer = string

// User is the JSON of a user.
type User struct {
	UserID         string   `json:"userid"`
	Username       *string  `json:"username"`
	FirstName      *string  `json:"first_name"`
	LastName       *string  `json:"last_name"`
	Email          *string  `json:"email"`
	ImageURL       *string  `json:"image_url"`
	Gender         *string  `json:"gender"`
	Phone          *string  `json:"phone"`
	Age            *int     `json:"age"`
	Role           *string  `json:"role"`
	IsOnline       bool     `json:"is_online"`
	IsAvailable    bool     `json:"is_available"`
	CurrentVehicle *Vehicle `json:"current_vehicle"`
	RatingAverage  *float64 `json:"rating_average"`
	RatingCount    int      `json:"rating_count"`
}

// NewUser renders u for viewer: the email only when viewer is u. The current
// vehicle is rendered when it was loaded (Preload("CurrentVehicle.Type.Categories")).
func NewUser(u *store.User, viewer Viewer) *User {
	if u == nil {
		return nil
	}
	out := &User{
		UserID: u.UserID, Username: u.Username, FirstName: u.FirstName, LastName: u.LastName,
		ImageURL: u.ImageURL, Gender: u.Gender, Phone: u.Phone, Age: u.Age, Role: u.Role,
		IsOnline: u.IsOnline, IsAvailable: u.IsAvailable,
		RatingAverage: u.RatingAverage(), RatingCount: u.RatingCount,
	}
	if viewer == u.UserID {
		out.Email = u.Email
	}
	if u.CurrentVehicle != nil {
		out.CurrentVehicle = NewVehicle(u.CurrentVehicle)
	}
	return out
}

// Address is the JSON of an address.
type Address struct {
	AddressID   string `json:"addressId"`
	UserID      string `json:"userId"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Address     string `json:"address"`
	City        string `json:"city"`
	Type        string `json:"type"`
	IsFavorite  bool   `json:"isFavorite"`
	// The address's point (place.md §1): numbers, or null.
	Latitude  *float64 `json:"latitude"`
	Longitude *float64 `json:"longitude"`
}

// NewAddress renders a.
func NewAddress(a *store.Address) *Address {
	return &Address{AddressID: a.AddressID.String(), UserID: a.UserID, Name: a.Name, Description: a.Description,
		Address: a.Address, City: a.City, Type: a.Type, IsFavorite: a.IsFavorite, Latitude: a.Latitude, Longitude: a.Longitude}
}

// Category is the JSON of a delivery category.
type Category struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	IsActive    bool   `json:"is_active"`
	CreatedAt   Time   `json:"created_at"`
	UpdatedAt   Time   `json:"updated_at"`
}

// NewCategory renders c.
func NewCategory(c *store.Category) *Category {
	return &Category{ID: c.ID.String(), Name: c.Name, Description: c.Description, IsActive: c.IsActive,
		CreatedAt: Time(c.CreatedAt), UpdatedAt: Time(c.UpdatedAt)}
}

// VehicleType is the JSON of a vehicle type.
type VehicleType struct {
	ID                      string   `json:"id"`
	Name                    string   `json:"name"`
	Description             string   `json:"description"`
	MaxWeightCapacityKg     Decimal  `json:"max_weight_capacity_kg"`
	MaxVolumeCapacityLiters Decimal  `json:"max_volume_capacity_liters"`
	PassengerCapacity       int      `json:"passenger_capacity"`
	Image                   *string  `json:"image"`
	IsActive                bool     `json:"is_active"`
	CreatedAt               Time     `json:"created_at"`
	UpdatedAt               Time     `json:"updated_at"`
	DeliveryCategories      []string `json:"delivery_categories"`
}

// NewVehicleType renders t; its categories must be loaded (Preload("Categories")).
// Category ids are listed in the categories' name order.
func NewVehicleType(t *store.VehicleType) *VehicleType {
	if t == nil {
		return nil
	}
	ids := make([]string, 0, len(t.Categories))
	for _, c := range t.Categories {
		ids = append(ids, c.ID.String())
	}
	return &VehicleType{ID: t.ID.String(), Name: t.Name, Description: t.Description,
		MaxWeightCapacityKg: Decimal(t.MaxWeightCapacityKg), MaxVolumeCapacityLiters: Decimal(t.MaxVolumeCapacityLiters),
		PassengerCapacity: t.PassengerCapacity, Image: t.Image, IsActive: t.IsActive,
		CreatedAt: Time(t.CreatedAt), UpdatedAt: Time(t.UpdatedAt), DeliveryCategories: ids}
}

// Vehicle is the JSON of a vehicle; Plate repeats LicensePlate.
type Vehicle struct {
	VehicleID              string       `json:"vehicleId"`
	UserID                 string       `json:"userId"`
	Type                   *VehicleType `json:"type"`
	Brand                  string       `json:"brand"`
	Model                  string       `json:"model"`
	Year                   int          `json:"year"`
	LicensePlate           string       `json:"licensePlate"`
	VIN                    string       `json:"vin"`
	Color                  string       `json:"color"`
	DriverLicenseStatus    string       `json:"driverLicenseStatus"`
	RegistrationCardStatus string       `json:"registrationCardStatus"`
	InsurancePolicyStatus  string       `json:"insurancePolicyStatus"`
	CriminalRecordStatus   string       `json:"criminalRecordStatus"`
	IsVerified             bool         `json:"isVerified"`
	VerificationNotes      *string      `json:"verificationNotes"`
	Plate                  string       `json:"plate"`
}

// NewVehicle renders v; its type must be loaded (Preload("Type.Categories")).
func NewVehicle(v *store.Vehicle) *Vehicle {
	if v == nil {
		return nil
	}
	return &Vehicle{VehicleID: v.VehicleID.String(), UserID: v.UserID, Type: NewVehicleType(v.Type),
		Brand: v.Brand, Model: v.Model, Year: v.Year, LicensePlate: v.LicensePlate, VIN: v.VIN, Color: v.Color,
		DriverLicenseStatus: v.DriverLicenseStatus, RegistrationCardStatus: v.RegistrationCardStatus,
		InsurancePolicyStatus: v.InsurancePolicyStatus, CriminalRecordStatus: v.CriminalRecordStatus,
		IsVerified: v.IsVerified, VerificationNotes: v.VerificationNotes, Plate: v.LicensePlate}
}

// Quote is the JSON of a quote.
type Quote struct {
	ID              string   `json:"id"`
	Client          *User    `json:"client"`
	PickupAddress   string   `json:"pickup_address"`
	DeliveryAddress string   `json:"delivery_address"`
	Category        *string  `json:"category"`
	Description     *string  `json:"description"`
	Observations    []string `json:"observations"`
	EstimatedWeight *Decimal `json:"estimated_weight"`
	EstimatedSize   *string  `json:"estimated_size"`
	ClientPrice     Decimal  `json:"client_price"`
	PaymentMethod   string   `json:"payment_method"`
	Status          string   `json:"status"`
	HistoryID       string   `json:"history_id"`
	ExpiresAt       Time     `json:"expires_at"`
	CreatedAt       Time     `json:"created_at"`
	VehicleType     *string  `json:"vehicle_type"`
	// The two points and the trip between them (place.md §1–§2), for every audience.
	points
	// place.md §7: the automatic accept of the lowest offer and when it fires.
	AutoAcceptLowest bool  `json:"auto_accept_lowest"`
	AutoAcceptAt     *Time `json:"auto_accept_at"`
	// place.md §5: available drivers around the pickup, for the quote's
	// client only (pkg/nearby fills store.Quote.NearbyDrivers); else null.
	NearbyDrivers *int `json:"nearby_drivers"`
}

// Quotes renders a list of quotes for viewer (the HTTP lists and the
// sockets' snapshots alike).
func Quotes(qs []store.Quote, viewer Viewer) []*Quote {
	out := make([]*Quote, len(qs))
	for i := range qs {
		out[i] = NewQuote(&qs[i], viewer)
	}
	return out
}

// Deliveries renders a list of deliveries for viewer (the HTTP lists and the
// sockets' snapshots alike; live tracking is attached by the caller).
func Deliveries(ds []store.Delivery, viewer Viewer) []*Delivery {
	out := make([]*Delivery, len(ds))
	for i := range ds {
		out[i] = NewDelivery(&ds[i], viewer)
	}
	return out
}

// NewQuote renders q for viewer; Client (with its current vehicle), Category
// and VehicleType must be loaded.
func NewQuote(q *store.Quote, viewer Viewer) *Quote {
	out := &Quote{ID: q.ID.String(), Client: NewUser(q.Client, viewer), PickupAddress: q.PickupAddress,
		DeliveryAddress: q.DeliveryAddress, Description: q.Description, Observations: observations(q.Observations),
		EstimatedWeight: decPtr(q.EstimatedWeight), EstimatedSize: q.EstimatedSize, ClientPrice: Decimal(q.ClientPrice),
		PaymentMethod: q.PaymentMethod, Status: q.Status, HistoryID: q.HistoryID.String(),
		ExpiresAt: Time(q.ExpiresAt), CreatedAt: Time(q.CreatedAt),
		points:           newPoints(q.PickupLatitude, q.PickupLongitude, q.DeliveryLatitude, q.DeliveryLongitude),
		AutoAcceptLowest: q.AutoAcceptLowest, AutoAcceptAt: timePtr(q.AutoAcceptAt)}
	if q.Category != nil {
		out.Category = &q.Category.Name
	}
	if q.VehicleType != nil {
		out.VehicleType = &q.VehicleType.Name
	}
	if viewer != "" && viewer == q.ClientID && q.Status == store.QuotePending {
		out.NearbyDrivers = q.NearbyDrivers
	}
	return out
}

// QuoteWithOffers is a Quote plus its offers, for socket snapshots.
type QuoteWithOffers struct {
	*Quote
	Offers []*Offer `json:"offers"`
}

// NewQuoteWithOffers renders q and its loaded Offers (each as for NewOffer)
// for viewer at now.
func NewQuoteWithOffers(q *store.Quote, viewer Viewer, now time.Time) *QuoteWithOffers {
	out := &QuoteWithOffers{Quote: NewQuote(q, viewer), Offers: make([]*Offer, len(q.Offers))}
	for i := range q.Offers {
		out.Offers[i] = NewOffer(&q.Offers[i], viewer, now)
	}
	return out
}

func observations(l store.StringList) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// Offer is the JSON of an offer.
type Offer struct {
	ID                    string   `json:"id"`
	DeliveryPerson        *User    `json:"delivery_person"`
	Quote                 *Quote   `json:"quote"`
	ProposedPrice         Decimal  `json:"proposed_price"`
	EstimatedDeliveryTime *string  `json:"estimated_delivery_time"`
	Vehicle               *Vehicle `json:"vehicle"`
	Status                string   `json:"status"`
	CreatedAt             Time     `json:"created_at"`
	UpdatedAt             Time     `json:"updated_at"`
	ExpiresAt             Time     `json:"expires_at"`
	CanAccept             bool     `json:"can_accept"`
}

// CanAccept: only the quote's client, while the offer can be accepted
// (store.Offer.Acceptance, the rule market's accept checks).
func CanAccept(o *store.Offer, viewer Viewer, now time.Time) bool {
	q := o.Quote
	return q != nil && viewer != "" && viewer == q.ClientID && o.Acceptance(q, now) == store.AcceptOK
}

// NewOffer renders o for viewer; Driver, Quote (as for NewQuote) and
// Vehicle must be loaded.
func NewOffer(o *store.Offer, viewer Viewer, now time.Time) *Offer {
	out := &Offer{ID: o.ID.String(), DeliveryPerson: NewUser(o.Driver, viewer),
		ProposedPrice: Decimal(o.ProposedPrice), Vehicle: NewVehicle(o.Vehicle), Status: o.Status,
		CreatedAt: Time(o.CreatedAt), UpdatedAt: Time(o.UpdatedAt), ExpiresAt: Time(o.ExpiresAt),
		CanAccept: CanAccept(o, viewer, now)}
	if o.Quote != nil {
		out.Quote = NewQuote(o.Quote, viewer)
	}
	if o.EstimatedDeliveryTime != nil {
		s := FormatDuration(*o.EstimatedDeliveryTime)
		out.EstimatedDeliveryTime = &s
	}
	return out
}

// Delivery is the JSON of a delivery.
type Delivery struct {
	ID              string   `json:"id"`
	Client          *User    `json:"client"`
	DeliveryPerson  *User    `json:"delivery_person"`
	PickupAddress   string   `json:"pickup_address"`
	DeliveryAddress string   `json:"delivery_address"`
	Category        *string  `json:"category"`
	Description     *string  `json:"description"`
	Observations    []string `json:"observations"`
	EstimatedWeight *Decimal `json:"estimated_weight"`
	EstimatedSize   *string  `json:"estimated_size"`
	FinalPrice      Decimal  `json:"final_price"`
	Status          string   `json:"status"`
	PaymentMethod   string   `json:"payment_method"`
	CreatedAt       Time     `json:"created_at"`
	UpdatedAt       Time     `json:"updated_at"`
	CompletedAt     *Time    `json:"completed_at"`
	CancelledAt     *Time    `json:"cancelled_at"`
	VehicleType     *string  `json:"vehicle_type"`
	Vehicle         *string  `json:"vehicle"`
	// Its quote's points and trip, copied at accept (place.md §2).
	points
	// DriverLocation is the driver's last fresh location while the delivery
	// is tracked, for its client and driver only (place.md §6; set by the
	// caller, pkg/track); null otherwise.
	DriverLocation *DriverLocation `json:"driver_location"`
}

// NewDelivery renders d for viewer; Client, Driver (with current
// vehicles) and Category must be loaded.
func NewDelivery(d *store.Delivery, viewer Viewer) *Delivery {
	out := &Delivery{ID: d.ID.String(), Client: NewUser(d.Client, viewer), DeliveryPerson: NewUser(d.Driver, viewer),
		PickupAddress: d.PickupAddress, DeliveryAddress: d.DeliveryAddress, Description: d.Description,
		Observations: observations(d.Observations), EstimatedWeight: decPtr(d.EstimatedWeight), EstimatedSize: d.EstimatedSize,
		FinalPrice: Decimal(d.FinalPrice), Status: d.Status, PaymentMethod: d.PaymentMethod,
		CreatedAt: Time(d.CreatedAt), UpdatedAt: Time(d.UpdatedAt), CompletedAt: timePtr(d.CompletedAt),
		CancelledAt: timePtr(d.CancelledAt), VehicleType: d.VehicleTypeName, Vehicle: d.VehicleTypeName,
		points: newPoints(d.PickupLatitude, d.PickupLongitude, d.DeliveryLatitude, d.DeliveryLongitude)}
	if d.Category != nil {
		out.Category = &d.Category.Name
	}
	return out
}

// HistoryEvent is the JSON of one history entry.
type HistoryEvent struct {
	ID          string `json:"id"`
	EventType   string `json:"event_type"`
	Description string `json:"description"`
	ChangedBy   *User  `json:"changed_by"`
	CreatedAt   Time   `json:"created_at"`
}

// NewHistoryEvent renders h for viewer; ChangedBy must be loaded.
func NewHistoryEvent(h *store.HistoryEvent, viewer Viewer) *HistoryEvent {
	return &HistoryEvent{ID: h.ID.String(), EventType: h.EventType, Description: h.Description,
		ChangedBy: NewUser(h.ChangedBy, viewer), CreatedAt: Time(h.CreatedAt)}
}

// Rating is the JSON of a rating.
type Rating struct {
	ID        string  `json:"id"`
	Ratee     *User   `json:"ratee"`
	Rater     *User   `json:"rater"`
	Rating    int     `json:"rating"`
	Comment   *string `json:"comment"`
	CreatedAt Time    `json:"created_at"`
}

// NewRating renders r for viewer; Ratee and Rater must be loaded.
func NewRating(r *store.Rating, viewer Viewer) *Rating {
	return &Rating{ID: r.ID.String(), Ratee: NewUser(r.Ratee, viewer), Rater: NewUser(r.Rater, viewer),
		Rating: r.Rating, Comment: r.Comment, CreatedAt: Time(r.CreatedAt)}
}

// PersonStats is the person_stats payload: deliveries a driver completed,
// their total and count.
type PersonStats struct {
	Deliveries []*Delivery `json:"deliveries"`
	Total      Decimal     `json:"total"`
	Count      int         `json:"count"`
}

// NewPersonStats renders a driver's completed deliveries (as for NewDelivery)
// for viewer, with their total final price and count.
func NewPersonStats(ds []store.Delivery, viewer Viewer) *PersonStats {
	out := &PersonStats{Deliveries: make([]*Delivery, len(ds)), Count: len(ds)}
	total := decimal.Zero
	for i := range ds {
		out.Deliveries[i] = NewDelivery(&ds[i], viewer)
		total = total.Add(ds[i].FinalPrice)
	}
	out.Total = Decimal(total)
	return out
}
