"""The demo council's five seed schemes, as the data staff would enter (no code per scheme)."""

from __future__ import annotations

from typing import Any

LEISURE_WARDS = ["Riverside", "Northgate", "Castle", "Eastfield"]

FIVE_SCHEMES: list[dict[str, Any]] = [
    {
        "slug": "leisure-vouchers",
        "name": "Leisure vouchers (13-19)",
        "unit": "GBP",
        "rules": {
            "eligibility": {"min_age": 13, "max_age": 19, "wards": LEISURE_WARDS},
            "issuing": {"mode": "recurring", "amount_minor": 1500, "period": "month"},
            "spending": {
                "outlet_categories": ["leisure-centre", "music-tuition", "studio", "library"],
                "per_day_limit_minor": 1000,
                "refund_window_days": 14,
                "offline_floor_limit_minor": 500,
            },
            "expiry": {"days_after_issue": 91},
        },
    },
    {
        "slug": "release-vouchers",
        "name": "Release vouchers",
        "unit": "GBP",
        "rules": {
            "eligibility": {"min_age": 18, "referral_required": True},
            "issuing": {
                "mode": "series",
                "purposes": {
                    "accommodation": 6000,
                    "work-clothes": 4000,
                    "interview-preparation": 2500,
                    "skills-course": 7500,
                },
            },
            "spending": {
                "outlet_categories": [
                    "accommodation",
                    "work-clothes",
                    "interview-preparation",
                    "skills-course",
                ],
                "purpose_categories": {
                    "accommodation": ["accommodation"],
                    "work-clothes": ["work-clothes"],
                    "interview-preparation": ["interview-preparation"],
                    "skills-course": ["skills-course"],
                },
                "partial_spend": True,
                "transferable": False,
                "refund_window_days": 7,
            },
            "expiry": {"days_after_issue": 90},
        },
    },
    {
        "slug": "time-bank",
        "name": "Time bank",
        "unit": "HOUR",
        "rules": {
            "issuing": {"mode": "earned"},
            "earning": {
                "volunteer_hours": {
                    "amount_minor": 1,
                    "per_quantity": True,
                    "requires_role": ["scheme_manager"],
                }
            },
            "spending": {
                "outlet_categories": ["community-centre", "repair-cafe"],
                "transferable": True,
                "overdraft_floor_minor": -600,
                "refund_window_days": 7,
            },
        },
    },
    {
        "slug": "recycling-rewards",
        "name": "Recycling rewards",
        "unit": "POINT",
        "rules": {
            "eligibility": {"resident_kinds": ["household", "collective"]},
            "issuing": {"mode": "earned"},
            "earning": {
                "recycling_collection": {"amount_minor": 10, "cap_per_week_minor": 30, "period": "month"},
                "street_reward": {
                    "amount_minor": 500,
                    "collective": True,
                    "datum_minor": 100,
                    "period": "month",
                    "requires_role": ["scheme_manager"],
                },
            },
            "spending": {"outlet_categories": ["local-service", "leisure-centre", "library"]},
            "expiry": {"days_after_issue": 365},
        },
    },
    {
        "slug": "healthy-living",
        "name": "Healthy-living credits",
        "unit": "POINT",
        "rules": {
            "issuing": {"mode": "earned"},
            "earning": {
                "leisure_check_in": {"amount_minor": 10, "cap_per_day_minor": 10, "cap_per_week_minor": 50},
                "walking_group": {"amount_minor": 10, "cap_per_day_minor": 10, "cap_per_week_minor": 50},
                "gp_referral_session": {
                    "amount_minor": 10,
                    "cap_per_day_minor": 10,
                    "cap_per_week_minor": 50,
                },
            },
            "spending": {"outlet_categories": ["leisure-centre"], "refund_window_days": 1},
        },
    },
]

DEMO_OUTLETS: list[dict[str, Any]] = [
    {
        "name": "Riverside Leisure Centre",
        "categories": ["leisure-centre"],
        "schemes": ["leisure-vouchers", "healthy-living", "recycling-rewards"],
    },
    {
        "name": "Northgate Pool",
        "categories": ["leisure-centre"],
        "schemes": ["leisure-vouchers", "healthy-living"],
    },
    {"name": "Castle Music School", "categories": ["music-tuition"], "schemes": ["leisure-vouchers"]},
    {"name": "Eastfield Studios", "categories": ["studio"], "schemes": ["leisure-vouchers"]},
    {
        "name": "Central Library",
        "categories": ["library"],
        "schemes": ["leisure-vouchers", "recycling-rewards"],
    },
    {"name": "Harbour House Hostel", "categories": ["accommodation"], "schemes": ["release-vouchers"]},
    {"name": "Second Chance Outfitters", "categories": ["work-clothes"], "schemes": ["release-vouchers"]},
    {
        "name": "Fresh Start Skills",
        "categories": ["skills-course", "interview-preparation"],
        "schemes": ["release-vouchers"],
    },
    {"name": "Oak Street Repair Cafe", "categories": ["repair-cafe"], "schemes": ["time-bank"]},
    {"name": "Parks and Gardens Team", "categories": ["local-service"], "schemes": ["recycling-rewards"]},
]
