// Package db holds the schema migrations (one folder per SQL dialect, embedded in
// every binary) and the reference data that `seed` writes.
package db

import (
	"embed"
	"io/fs"
)

//go:embed migrations/postgres/*.sql migrations/sqlite/*.sql
var migrations embed.FS

// Migrations returns the migration files of one dialect ("postgres" or "sqlite").
func Migrations(dialect string) (fs.FS, error) {
	return fs.Sub(migrations, "migrations/"+dialect)
}

// Category is one seeded delivery category.
type Category struct {
	Name        string
	Description string
}

// VehicleType is one seeded vehicle type; Categories names seeded categories.
type VehicleType struct {
	Name              string
	Description       string
	MaxWeightKg       string
	MaxVolumeLiters   string
	PassengerCapacity int
	Categories        []string
}

// Categories are the delivery categories the frontend can picture (by lower-cased name).
var Categories = []Category{
	{"Alimentos", "Entrega de alimentos y comidas preparadas."},
	{"Paquetes", "Entrega de paquetes y mercancías de tamaño pequeño a mediano."},
	{"Documentos", "Transporte seguro y rápido de documentos importantes."},
	{"Personas", "Transporte de pasajeros."},
	{"Mercado", "Entrega de compras de supermercado y abarrotes."},
}

// VehicleTypes are the vehicle types the frontend can picture (by lower-cased name).
var VehicleTypes = []VehicleType{
	{"Moto", "Vehículo ágil para entregas rápidas en la ciudad.", "150", "80", 1,
		[]string{"Alimentos", "Paquetes", "Documentos", "Personas", "Mercado"}},
	{"Carro", "Vehículo con mayor capacidad para entregas más grandes o múltiples.", "500", "1500", 4,
		[]string{"Paquetes", "Personas", "Mercado"}},
	{"Mototaxi", "Vehículo versátil con capacidad de carga media.", "200", "1000", 3,
		[]string{"Alimentos", "Paquetes", "Mercado", "Personas"}},
}
