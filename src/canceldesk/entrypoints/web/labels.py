"""Display names of codes (kinds, statuses, steps, …), marked for translation.

Templates show them as `_(L.KINDS[code])`; the catalogues carry the Chinese and English text.
"""
from __future__ import annotations

from .i18n import N_

KINDS = {"close_line": N_("Close number"), "unsubscribe": N_("Unsubscribe"),
         "cancel_renewal": N_("Stop auto-renewal"), "withdraw": N_("Withdraw from contract"),
         "reclaim": N_("Reclaim number")}
STATUSES = {"submitted": N_("Submitted"), "checked": N_("Checked"), "awaiting_confirmation": N_("Waiting for your confirmation"),
            "in_review": N_("Being reviewed by a person"), "executing": N_("Being carried out"),
            "completed": N_("Completed"), "rejected": N_("Not carried out"), "withdrawn": N_("Withdrawn"),
            "failed": N_("Problem: with staff now")}
STAFF_STATUSES = {**STATUSES, "awaiting_confirmation": N_("Waiting for the customer's confirmation")}
LINE_STATUSES = {"active": N_("In service"), "suspended": N_("Suspended"), "inactive": N_("Never activated"),
                 "frozen": N_("Closed (frozen, can be reclaimed)"), "recyclable": N_("Closed")}
SUB_STATUSES = {"active": N_("Active"), "ending": N_("Ending"), "ended": N_("Ended")}
PRODUCT_KINDS = {"plan": N_("Plan"), "vas": N_("Value-added service"), "membership": N_("Membership")}
PERIODS = {"day": N_("day"), "week": N_("week"), "month": N_("month"), "quarter": N_("quarter"), "year": N_("year")}
STEPS = {"bar_network": N_("Stop network service"), "stop_partner": N_("Stop at the provider"),
         "stop_renewal": N_("Stop the renewal at the provider"), "settle": N_("Settle the account"),
         "refund": N_("Pay the refund"), "end_subscriptions": N_("End the products"),
         "freeze_number": N_("Freeze the number"), "restore_number": N_("Restore the number"),
         "issue_receipt": N_("Issue the receipt")}
STEP_STATUSES = {"pending": N_("Not started yet"), "started": N_("In progress"), "done": N_("Done"), "failed": N_("Failed")}
CHANNELS = {"app": N_("App / web"), "counter": N_("Counter"), "enterprise": N_("Enterprise console"),
            "staff": N_("Staff"), "sms": N_("SMS"), "ivr": N_("Phone"), "assistant": N_("Assistant"),
            "kiosk": N_("Kiosk"), "worker": N_("System"), "tmf": N_("Partner API"), "scheduler": N_("System"),
            "partner": N_("Partner API"),
            "system": N_("System"), "import": N_("Data import")}
DOC_TYPES = {"cn_ric": N_("Resident ID card"), "passport": N_("Passport"), "cn_uscc": N_("Business licence (credit code)"),
             "hk_macau_permit": N_("Hong Kong/Macau permit"), "taiwan_permit": N_("Taiwan permit"),
             "foreign_permanent_resident": N_("Foreign permanent resident ID")}
REASONS = {"switching_operator": N_("Moving to another operator"), "not_needed": N_("No longer needed"),
           "too_expensive": N_("Too expensive"), "moving_abroad": N_("Moving abroad"),
           "service_quality": N_("Unhappy with the service"), "other": N_("Other")}
COMPLAINT_KINDS = {"complaint": N_("Complaint"), "appeal": N_("Appeal a decision")}
COMPLAINT_STATUSES = {"open": N_("Open"), "resolved": N_("Answered")}
BATCH_PHASES = {"prechecking": N_("Checking lines"), "prechecked": N_("Checked: ready to close"),
                "submitting": N_("Closing lines"), "submitted": N_("All lines submitted")}
OUTCOMES = {"running": N_("Running"), "completed": N_("Completed"), "partial": N_("Partly completed"),
            "failed": N_("Failed")}
RESULTS = {"completed": N_("Closed"), "rejected": N_("Not closed"), "failed": N_("Problem: with staff"),
           "running": N_("In progress"), "error": N_("Not submitted"), "not_submitted": N_("Not submitted yet"),
           "withdrawn": N_("Withdrawn")}
FLEET_FILTERS = {"": N_("All lines"), "active": N_("In service"), "not_active": N_("Not in service"),
                 "arrears": N_("With unpaid charges"), "port_out": N_("Port-out pending"),
                 "contract": N_("Under contract")}
RESULT_FILTERS = {"": N_("All"), "eligible": N_("Can close"), "blocked": N_("Blocked"),
                  "completed": N_("Closed"), "not_completed": N_("Not closed")}
ERRORS = {
    "UPLOAD_INVALID": N_("Some rows need fixing (listed below); nothing was started."),
    "NOT_CSV": N_("The file is not text: save it as CSV (UTF-8 or GBK)."),
    "OTP_INVALID": N_("The code is wrong or has expired. Ask for a new one."),
    "OTP_LOCKED": N_("Too many wrong codes: this number is locked for 15 minutes."),
    "RATE_LIMITED": N_("Too many attempts. Wait a few minutes and try again."),
    "OTP_RATE_LIMITED": N_("Too many codes for this number this hour. Try again later."),
    "LOGIN_FAILED": N_("Wrong username or password."),
    "LOGIN_LOCKED": N_("Too many failed logins: this account is locked for 15 minutes."),
    "STEP_UP_REQUIRED": N_("Enter the last 6 characters of your ID number or your service password."),
    "STEP_UP_FAILED": N_("That does not match our records."),
    "STEP_UP_LOCKED": N_("Locked after repeated failures; try again in 15 minutes."),
    "OPEN_REQUEST": N_("Another request for this is already open."),
    "WARNINGS_NOT_ACKNOWLEDGED": N_("Tick each point to show you have read it."),
    "TEXT_REQUIRED": N_("Please write a few words."),
    "TEXT_TOO_LONG": N_("That is too long."),
    "NO_LINES": N_("Choose at least one line."),
    "TOO_MANY_LINES": N_("Too many lines for one batch."),
    "ID_MISMATCH": N_("This document does not match the customer's real-name record."),
    "ID_CHECK_LOCKED": N_("Too many ID checks did not match: checks are paused for a while."),
    "INVALID_STATE": N_("This request has moved on; reload the page."),
}
FIELD_ERRORS = {
    "msisdn": N_("Enter an 11-digit mainland mobile number, e.g. 13800138000."),
    "otp": N_("Enter the 6-digit code from the SMS."),
    "id_document.number": N_("This document number is not valid; check every character."),
    "in_person_document.number": N_("This document number is not valid; check every character."),
    "id_document.type": N_("Choose the document type."),
    "in_person_document.type": N_("Choose the document type."),
    "reason": N_("Give a reason."),
}
# The pack's withdrawal button (its legal wording, in the pack's language) as a reader of either language reads it.
WITHDRAW_BUTTONS = {"withdraw from contract here": N_("withdraw from contract here"),
                    "撤回合同": N_("Withdraw from the contract")}
WITHDRAW_CONFIRMS = {"confirm withdrawal": N_("confirm withdrawal"), "确认撤回": N_("Confirm the withdrawal")}
# Warnings that only inform (nothing to do, nothing at risk): shown once as a note, never a box to tick.
INFO_WARNINGS = frozenset({"RENEWAL_IMMINENT"})
FEES = {"EARLY_TERMINATION": N_("Early-termination fee"), "INSTALLMENT": N_("Unpaid device instalments"),
        "PROCESSING": N_("Processing fee")}
# The system's own words in a request's timeline (anything else — a person's reason — is shown as written).
TIMELINE_REASONS = {"pre-checks passed": N_("Pre-checks passed"),
                    "impact shown, waiting for confirmation": N_("Effect shown; waiting for confirmation"),
                    "confirmed": N_("Confirmed"), "all steps done": N_("All steps done"), "approved": N_("Approved"),
                    "withdrawn by requester": N_("Withdrawn by the requester"),
                    "retried by staff": N_("Retried by staff"), "retried after escalation": N_("Retried by staff")}
ESCALATION_REASONS = {"failed": N_("Failed while carrying it out"), "overdue": N_("Past the promised time")}
REJECT_CODES = {"ARREARS": N_("Unpaid charges"), "CONTRACT_LOCK": N_("Contract term runs"),
                "SECONDARY_LINES": N_("Secondary cards in use"), "PORT_OUT_PENDING": N_("Port-out pending"),
                "OPEN_REQUEST": N_("Already in progress"), "INSTALLMENT_DUE": N_("Instalments unpaid"),
                "LINE_NOT_ACTIVE": N_("Line not in service"), "NOT_OWNER": N_("Not the owner"),
                "REVIEW_REJECTED": N_("Rejected on review"), "SUBSCRIPTION_NOT_ACTIVE": N_("Already ended"),
                "RENEWAL_ALREADY_OFF": N_("Renewal already off"), "WITHDRAWAL_WINDOW_CLOSED": N_("Withdrawal window over"),
                "CLOSED_AFTER_FAILURE": N_("Closed after a failure")}
PACK_NAMES = {"cn": N_("Mainland China (CN)"), "eu": N_("European Union (EU)"), "us-ca": N_("California (US-CA)")}
