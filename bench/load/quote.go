package load

import "fmt"

// QuoteFields is the body the load tool posts to POST /deliveries/api/quotes/
// as its user w (one more field may be added). bench/cmd/dbwrite writes the
// rows web writes for this body, so the two must stay one definition.
func QuoteFields(category string, w int) map[string]any {
	return map[string]any{
		"category_id":      category,
		"client_price":     12000,
		"payment_method":   "efectivo",
		"pickup_address":   fmt.Sprintf("Carrera 33 # 42-%d, Bucaramanga", w),
		"delivery_address": "Calle 56 # 17A-23, Ricaurte, Bucaramanga",
		"description":      "Caja mediana (carga de prueba)",
		"observations":     []string{"Frágil"},
		"estimated_weight": 3.5,
		"estimated_size":   "Mediano",
	}
}
