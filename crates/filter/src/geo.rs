//! Geo conditions over `{"lon": …, "lat": …}` payload values, with local mode's boundary rules:
//! haversine distance for radii, bounding boxes (also across the antimeridian) and polygons
//! with holes.

use serde_json::Value;

use crate::{GeoBoundingBox, GeoPoint, GeoPolygon, GeoRadius};

/// Mean Earth radius in meters (IUGG), as local mode uses.
pub const MEAN_EARTH_RADIUS: f64 = 6_371_008.8;

/// A payload value that is a geo point: an object whose `lat` and `lon` are numbers (booleans
/// are not); other keys are allowed.
pub fn geo_point(v: &Value) -> Option<GeoPoint> {
    let Value::Object(m) = v else { return None };
    let coord = |k: &str| match m.get(k) {
        Some(Value::Number(n)) => n.as_f64().filter(|x| x.is_finite()),
        _ => None,
    };
    Some(GeoPoint {
        lat: coord("lat")?,
        lon: coord("lon")?,
    })
}

/// Haversine distance in meters.
pub fn geo_distance(a: GeoPoint, b: GeoPoint) -> f64 {
    let (lon1, lat1) = (a.lon.to_radians(), a.lat.to_radians());
    let (lon2, lat2) = (b.lon.to_radians(), b.lat.to_radians());
    let dlon = lon2 - lon1;
    let dlat = lat2 - lat1;
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    let c = 2.0 * h.sqrt().asin();
    MEAN_EARTH_RADIUS * c
}

impl GeoRadius {
    /// Strictly closer than the radius.
    pub fn contains(&self, p: GeoPoint) -> bool {
        geo_distance(p, self.center) < self.radius
    }
}

impl GeoBoundingBox {
    /// Strictly inside; a box whose left edge lies east of its right edge wraps the antimeridian.
    pub fn contains(&self, p: GeoPoint) -> bool {
        let (tl, br) = (self.top_left, self.bottom_right);
        let lon_ok = if tl.lon > br.lon {
            p.lon > tl.lon || p.lon < br.lon
        } else {
            tl.lon < p.lon && p.lon < br.lon
        };
        lon_ok && tl.lat > p.lat && p.lat > br.lat
    }
}

impl GeoPolygon {
    /// Inside the exterior ring (its boundary excluded) and in no hole (a hole's boundary counts
    /// as the hole).
    pub fn contains(&self, p: GeoPoint) -> bool {
        in_ring(p, &self.exterior, true) && !self.interiors.iter().any(|r| in_ring(p, r, false))
    }
}

/// Ray casting over (lat, lon) pairs; a point on the boundary is outside when
/// `ignore_boundary`, inside otherwise.
fn in_ring(p: GeoPoint, ring: &[GeoPoint], ignore_boundary: bool) -> bool {
    let mut ring = ring;
    if let (Some(first), Some(last)) = (ring.first(), ring.last()) {
        if first.lat == last.lat && first.lon == last.lon {
            ring = &ring[..ring.len() - 1];
        }
    }
    let (px, py) = (p.lat, p.lon);
    let mut inside = false;
    let Some(mut j) = ring.len().checked_sub(1) else {
        return false;
    };
    for i in 0..ring.len() {
        let (xi, yi) = (ring[i].lat, ring[i].lon);
        let (xj, yj) = (ring[j].lat, ring[j].lon);
        let on_boundary = py * (xi - xj) + yi * (xj - px) + yj * (px - xi) == 0.0
            && (xi - px) * (xj - px) <= 0.0
            && (yi - py) * (yj - py) <= 0.0;
        if on_boundary {
            return !ignore_boundary;
        }
        if (yi > py) != (yj > py) && px < (xj - xi) * (py - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pt(lon: f64, lat: f64) -> GeoPoint {
        GeoPoint { lon, lat }
    }

    #[test]
    fn distances_between_capitals() {
        let moscow = pt(37.6173, 55.7558);
        let london = pt(-0.1278, 51.5074);
        let berlin = pt(13.4050, 52.5200);
        assert!(geo_distance(moscow, moscow) < 1.0);
        let ml = geo_distance(moscow, london);
        assert!((2_400_000.0..2_600_000.0).contains(&ml), "{ml}");
        let mb = geo_distance(moscow, berlin);
        assert!((1_600_000.0..1_650_000.0).contains(&mb), "{mb}");
    }

    #[test]
    fn geo_points_are_objects_with_numeric_lat_and_lon() {
        assert_eq!(
            geo_point(&json!({"lon": 1, "lat": 2.5, "x": 0})),
            Some(pt(1.0, 2.5))
        );
        assert_eq!(geo_point(&json!({"lon": 1})), None);
        assert_eq!(geo_point(&json!({"lon": true, "lat": 1})), None);
        assert_eq!(geo_point(&json!({"lon": "1", "lat": 1})), None);
        assert_eq!(geo_point(&json!([1, 2])), None);
    }

    #[test]
    fn boxes_are_open_and_may_wrap() {
        let b = GeoBoundingBox {
            top_left: pt(0.0, 10.0),
            bottom_right: pt(10.0, 0.0),
        };
        assert!(b.contains(pt(5.0, 5.0)));
        assert!(!b.contains(pt(0.0, 5.0)));
        assert!(!b.contains(pt(5.0, 10.0)));
        let wrap = GeoBoundingBox {
            top_left: pt(170.0, 10.0),
            bottom_right: pt(-170.0, 0.0),
        };
        assert!(wrap.contains(pt(175.0, 5.0)));
        assert!(wrap.contains(pt(-175.0, 5.0)));
        assert!(!wrap.contains(pt(0.0, 5.0)));
    }

    #[test]
    fn polygon_boundaries_and_holes() {
        let sq = |a: f64, b: f64| vec![pt(a, a), pt(b, a), pt(b, b), pt(a, b), pt(a, a)];
        let poly = GeoPolygon {
            exterior: sq(0.0, 10.0),
            interiors: vec![sq(4.0, 6.0)],
        };
        assert!(poly.contains(pt(2.0, 2.0)));
        assert!(!poly.contains(pt(5.0, 5.0)), "in the hole");
        assert!(!poly.contains(pt(4.0, 5.0)), "on the hole's boundary");
        assert!(!poly.contains(pt(0.0, 5.0)), "on the exterior boundary");
        assert!(!poly.contains(pt(11.0, 5.0)));
    }
}
