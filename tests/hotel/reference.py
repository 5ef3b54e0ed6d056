"""The hotel services' logic in Python, written from the reference workload
(DeathStar's hotel reservation as the StateFlow evaluation ran it), over
the data hotel-init --dump writes. tests/hotel/run_hotel.py compares the
C application's answers with these, request by request.

Records are the JSON forms of hotel.ir.json's records (snake_case field
names), so answers compare with == against sf-local's JSON.
"""
import math

MAX_SEARCH_RESULTS = 5
MAX_SEARCH_RADIUS_KM = 10.0


def distance_km(lat1, lon1, lat2, lon2):
    """Haversine, in the reference's order of operations."""
    lat1, lon1, lat2, lon2 = map(math.radians, (lat1, lon1, lat2, lon2))
    dlon = lon2 - lon1
    dlat = lat2 - lat1
    a = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 6371 * (2 * math.asin(math.sqrt(a)))


class Hotel:
    """One copy of every service over the dumped data, plus the bookings."""

    def __init__(self, data):
        self.data = data
        self.capacity = {h: c for h, c in data["capacities"].items()}
        self.bookings = {h: [] for h in self.capacity}
        self.users = data["users"]

    # ---- the services -----------------------------------------------------

    def geo_nearby(self, lat, lon):
        near = [(p["hotel_id"], distance_km(p["lat"], p["lon"], lat, lon))
                for p in self.data["geo_points"]]
        near = [x for x in near if x[1] <= MAX_SEARCH_RADIUS_KM]
        near.sort(key=lambda x: x[1])  # stable: ties keep the stored order
        return [h for h, _ in near[:MAX_SEARCH_RESULTS]]

    def get_rates(self, hotel_ids):
        return [p for h in hotel_ids for p in self.data["rate_plans"] if p["hotel_id"] == h]

    def search_nearby(self, lat, lon):
        return [p["hotel_id"] for p in self.get_rates(self.geo_nearby(lat, lon))]

    def recommend(self, requirement, lat, lon):
        hs = self.data["recommend"]
        if requirement == "dis":
            score = [distance_km(lat, lon, h["lat"], h["lon"]) for h in hs]
        elif requirement == "rate":
            score = [-h["rate"] for h in hs]
        elif requirement == "price":
            score = [h["price"] for h in hs]
        else:
            raise ValueError("requirement must be dis, rate or price")
        best = min(score) if score else None
        return [h["hotel_id"] for h, s in zip(hs, score) if s == best]

    def get_profiles(self, hotel_ids):
        return [p for p in self.data["profiles"] if p["id"] in hotel_ids]

    def check_availability(self, hotel, in_date, out_date, rooms):
        # YYYY-MM-DD strings compare in calendar order
        taken = sum(b["number_of_rooms"] for b in self.bookings[hotel]
                    if in_date <= b["out_date"] and out_date >= b["in_date"])
        return taken + rooms <= self.capacity[hotel]

    def add_reservation(self, hotel, customer, in_date, out_date, rooms):
        if not self.check_availability(hotel, in_date, out_date, rooms):
            return False
        self.bookings[hotel].append({"customer_id": customer, "in_date": in_date,
                                     "out_date": out_date, "number_of_rooms": rooms})
        return True

    def login(self, username, password):
        pw = self.users.get(username, "")
        return pw != "" and pw == password

    # ---- the frontend -----------------------------------------------------

    def search(self, in_date, out_date, lat, lon):
        hotels = self.search_nearby(lat, lon)
        available = [h for h in hotels if self.check_availability(h, in_date, out_date, 1)]
        return self.get_profiles(available)

    def frontend_recommend(self, requirement, lat, lon):
        return self.get_profiles(self.recommend(requirement, lat, lon))

    def reserve(self, username, password, hotel, customer, in_date, out_date, rooms):
        if not self.login(username, password):
            return False
        return self.add_reservation(hotel, customer, in_date, out_date, rooms)
