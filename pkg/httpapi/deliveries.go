package httpapi

import "github.com/labstack/echo/v4"

// deliveryRoutes registers /deliveries/api/… (issue 3).
func (a *API) deliveryRoutes(g *echo.Group) {}
