"""Scheme rules the value and redemption tests share (the driver is tests.support.api.ApiDriver)."""

from __future__ import annotations

__all__ = ["BAD_INTEGERS", "HEALTHY", "LEISURE", "RECYCLING", "RELEASE", "TIME_BANK"]

BAD_INTEGERS = ["2.5", '"7"', "true", "1e3", "-5", "0", "null"]


LEISURE = {
    "eligibility": {"min_age": 13, "max_age": 19, "wards": ["Riverside", "Northgate"]},
    "issuing": {"mode": "recurring", "amount_minor": 1500, "period": "month"},
    "spending": {
        "outlet_categories": ["leisure-centre", "library"],
        "per_day_limit_minor": 1000,
        "refund_window_days": 14,
        "offline_floor_limit_minor": 500,
    },
    "expiry": {"days_after_issue": 91},
}
RELEASE = {
    "eligibility": {"min_age": 18, "referral_required": True},
    "issuing": {
        "mode": "series",
        "purposes": {"accommodation": 6000, "work-clothes": 4000, "interview-preparation": 2500},
    },
    "spending": {
        "outlet_categories": ["hostel", "supported-housing", "clothing", "interview-preparation"],
        "purpose_categories": {
            "accommodation": ["hostel", "supported-housing"],
            "work-clothes": ["clothing"],
        },
        "partial_spend": True,
        "transferable": False,
        "refund_window_days": 7,
    },
    "expiry": {"days_after_issue": 90},
}
TIME_BANK = {
    "issuing": {"mode": "earned"},
    "earning": {
        "volunteer_hours": {
            "amount_minor": 1,
            "per_quantity": True,
            "cap_per_day_minor": 480,
            "requires_role": ["scheme_manager"],
        }
    },
    "spending": {"outlet_categories": ["repair-cafe"], "transferable": True, "overdraft_floor_minor": -600},
}
HEALTHY = {
    "issuing": {"mode": "earned"},
    "earning": {
        "leisure_check_in": {"amount_minor": 10, "cap_per_day_minor": 10, "cap_per_week_minor": 50},
        "walking_group": {"amount_minor": 10, "cap_per_day_minor": 10, "cap_per_week_minor": 50},
    },
    "spending": {"outlet_categories": ["leisure-centre"], "refund_window_days": 1},
}
RECYCLING = {
    "eligibility": {"resident_kinds": ["household", "collective"]},
    "issuing": {"mode": "earned"},
    "earning": {
        "recycling_collection": {"amount_minor": 25, "cap_per_week_minor": 50, "period": "month"},
        "street_reward": {
            "amount_minor": 500,
            "collective": True,
            "datum_minor": 100,
            "period": "month",
            "requires_role": ["scheme_manager"],
        },
    },
    "spending": {"outlet_categories": ["local-service"]},
    "expiry": {"days_after_issue": 365},
}
