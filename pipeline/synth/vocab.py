"""Printed wording of synthetic documents, as data keyed by language.

Labels, titles, date and money formats vary between real providers; the generator draws
from these lists so the pipeline never sees one wording only. Add a language by adding
a `Vocabulary` to `VOCABULARIES`, never by branching in the layouts.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict

from pipeline.errors import ConfigError

__all__ = ["Vocabulary", "VOCABULARIES", "vocabulary", "format_date", "format_money"]

_MONTHS_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


class Vocabulary(BaseModel):
    """Everything language-specific a layout prints."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    labels: dict[str, tuple[str, ...]]
    titles: dict[str, tuple[str, ...]]
    claim_type_names: dict[str, str]
    date_formats: tuple[str, ...]
    money_formats: tuple[str, ...]
    month_names: tuple[str, ...]
    phrases: dict[str, tuple[str, ...]]
    text: dict[str, str]
    ocr_languages: str


_EN = Vocabulary(
    labels={
        "patient_name": ("Patient:", "Patient Name", "Name of Insured", "Patient", "Insured Name"),
        "patient_dob": ("DOB", "Date of Birth", "Birth Date", "D.O.B."),
        "member_id": ("Member ID", "Subscriber ID", "ID No.", "Member Number"),
        "policy_number": ("Policy No.", "Group/Policy #", "Policy Number", "Policy #"),
        "policy_effective_date": ("Policy Effective Date", "Coverage Start", "Effective Date"),
        "sex": ("Sex", "Gender"),
        "address": ("Address", "Patient Address", "Mailing Address"),
        "phone": ("Phone", "Telephone", "Tel."),
        "invoice_number": ("Invoice #", "Invoice No.", "Statement No.", "Bill Number"),
        "invoice_date": ("Invoice Date", "Statement Date", "Bill Date", "Date Issued"),
        "total": ("Amount Due", "Total Charges", "Balance Due", "Total"),
        "npi": ("NPI", "NPI #", "Provider NPI", "NPI No."),
        "tax_id": ("Tax ID", "TIN", "Federal Tax ID", "EIN"),
        "account": ("Account No.", "Account #", "Patient Account", "Acct"),
        "provider": ("Provider", "Billing Provider", "Facility", "Rendering Provider"),
        "physician": ("Attending Physician", "Physician", "Treating Doctor", "Signed"),
        "admission_date": ("Admission Date", "Date of Admission", "Admitted"),
        "discharge_date": ("Discharge Date", "Date of Discharge", "Discharged"),
        "visit_date": ("Date of Service", "Visit Date", "Encounter Date", "DOS"),
        "accident_date": ("Date of Accident", "Accident Date", "Date of Incident", "Incident Date"),
        "accident_place": ("Place of Accident", "Location", "Where did it happen"),
        "diagnosis": ("Diagnosis", "Diagnoses", "Diagnosis (ICD-10-CM)", "Assessment"),
        "claim_type": ("Type of Claim", "Claim Type", "This claim is for"),
        "plan": ("Plan", "Plan Type", "Coverage"),
        "group": ("Group", "Group No.", "Grp"),
        "page": ("Page {n} of {total}", "Page {n}/{total}", "p. {n} of {total}"),
        "col_date": ("Date", "Service Date", "DOS", "Date of Service"),
        "col_code": ("Code", "CPT/HCPCS", "Proc. Code", "Rev/CPT"),
        "col_desc": ("Description", "Service", "Description of Service"),
        "col_units": ("Units", "Qty", "Quantity"),
        "col_unit_price": ("Unit Price", "Rate", "Price"),
        "col_amount": ("Amount", "Charges", "Total", "Charge"),
        "signature": ("Signature", "Signature of Claimant", "Physician Signature"),
    },
    titles={
        "claim_form": (
            "CLAIM FORM",
            "Medical Expense Claim Form",
            "Health Insurance Claim Form",
            "Reimbursement Claim Form",
        ),
        "invoice": (
            "INVOICE",
            "ITEMIZED BILL",
            "STATEMENT OF ACCOUNT",
            "Patient Statement",
            "Itemized Statement",
        ),
        "medical_record_outpatient": ("Clinic Note", "Outpatient Visit Note", "Progress Note"),
        "medical_record_inpatient": ("DISCHARGE SUMMARY", "Discharge Summary", "Hospital Course"),
        "medical_record_ed": (
            "Emergency Department Record",
            "ED Physician Note",
            "Urgent Care Note",
        ),
        "diagnosis_certificate": (
            "ATTENDING PHYSICIAN STATEMENT",
            "Medical Certificate",
            "Diagnosis Certificate",
            "Physician's Statement of Diagnosis",
        ),
        "accident_report": ("ACCIDENT REPORT", "Incident Report", "Accident Statement"),
        "id_document": ("Member ID Card", "HEALTH PLAN", "Insurance Card"),
    },
    claim_type_names={
        "outpatient": "Outpatient",
        "inpatient": "Inpatient / Hospital",
        "accident": "Accident",
        "critical_illness": "Critical Illness",
    },
    date_formats=("%m/%d/%Y", "%Y-%m-%d", "%b %d, %Y", "%d-%b-%Y", "%B %d, %Y"),
    money_formats=("${amount}", "{plain}", "USD {amount}", "{amount}"),
    month_names=_MONTHS_EN,
    phrases={
        "certify": (
            "I certify that the information above is true and complete.",
            "I hereby declare that the above statements are correct to the best of my knowledge.",
        ),
        "cert_statement": (
            "This is to certify that the patient named above was examined and treated by me.",
            "I have attended the patient and state the following diagnosis.",
        ),
        "accident_kind": (
            "Slipped on a wet floor and fell onto outstretched hand.",
            "Rear-end collision while stopped at a traffic light.",
            "Fell from a ladder while cleaning gutters at home.",
            "Twisted ankle while playing recreational soccer.",
            "Cut hand on broken glass while washing dishes.",
            "Cyclist struck by a turning car at an intersection.",
            "Tripped on stairs at the workplace.",
        ),
        "ed_course": (
            "Patient evaluated, imaging obtained, treated and discharged home in stable condition.",
            "Wound irrigated and repaired, tetanus status reviewed, follow-up with primary care.",
        ),
        "op_note": (
            "Patient seen for evaluation. History and examination performed.",
            "Established patient presents for follow-up. Vitals stable.",
            "New patient visit. Reviewed history, medications and allergies.",
        ),
        "ip_course": (
            "Admitted for management, treated with IV therapy, improved and discharged.",
            "Hospital course uncomplicated. Patient tolerated treatment well.",
            "Monitored on telemetry, symptoms resolved, discharged with follow-up.",
        ),
        "plan": (
            "Continue current medications. Follow up in 2 weeks.",
            "Return if symptoms worsen. Follow up with primary care physician.",
            "Outpatient follow-up arranged. Medication list reconciled.",
        ),
        "remit": (
            "Please remit payment within 30 days.",
            "Thank you for choosing our practice.",
            "Questions about this bill? Call our billing office.",
        ),
        "complaint": (
            "Follow-up of chronic conditions.",
            "Acute symptoms for several days.",
            "Referred for further evaluation.",
            "Worsening symptoms despite treatment.",
        ),
        "accident_place": (
            "Home",
            "Workplace",
            "Public road",
            "Sports field",
            "Supermarket",
            "Parking lot",
        ),
        "yes_no": ("Yes", "No"),
        "card_name": ("Member", "Member Name", "Name", "Subscriber"),
        "card_back": (
            "Present this card at each visit. Not a guarantee of coverage.",
            "Members: call the number on the back for benefits and eligibility.",
        ),
    },
    text={
        "part_patient": "Part A - Patient / Insured Information",
        "part_claim_type": "Part B - ",
        "part_treatment": "Part C - Treatment",
        "date": "Date",
        "female": "Female",
        "male": "Male",
        "chief_complaint": "Chief Complaint",
        "reason_admission": "Reason for Admission",
        "vitals": "Vital Signs",
        "hospital_course": "Hospital Course",
        "history_exam": "History / Examination",
        "plan_head": "Plan",
        "esigned": "Electronically signed by {name}",
        "first_consult": "Date of first consultation",
        "to_whom": "To whom it may concern,",
        "dx_table_code": "ICD-10-CM",
        "dx_table_desc": "Diagnosis",
        "dx_head": "Diagnosis:",
        "time": "Time",
        "describe_accident": "Describe how the accident happened:",
        "injuries": "Injuries sustained:",
        "police": "Police report filed",
        "work_related": "Work related",
        "rx_bin": "Rx BIN 610014",
        "member_services": "Member services: 1-800-{phone}",
        "providers_note": "Providers: submit claims electronically, payer ID 60054",
        "continued": "continued",
        "mrn": "MRN",
        "patient_born": "Patient: {name}, born {dob}.",
    },
    ocr_languages="eng",
)

VOCABULARIES: dict[str, Vocabulary] = {"en": _EN}


def vocabulary(language: str) -> Vocabulary:
    """The vocabulary of `language`; raises ConfigError naming the languages we have."""
    try:
        return VOCABULARIES[language]
    except KeyError:
        raise ConfigError(
            f"no synthetic vocabulary for language {language!r}; valid: {sorted(VOCABULARIES)}"
        ) from None


def format_date(value: dt.date, pattern: str, vocab: Vocabulary) -> str:
    """Format without the locale: month names come from the vocabulary, days are not zero-padded in words."""
    month = vocab.month_names[value.month - 1]
    out = pattern.replace("%Y", f"{value.year:04d}")
    out = out.replace("%m", f"{value.month:02d}")
    out = out.replace("%B", month).replace("%b", month[:3])
    day = f"{value.day:02d}" if ("%m" in pattern or "-%b-" in pattern) else str(value.day)
    return out.replace("%d", day)


def format_money(value: float, pattern: str) -> str:
    """`pattern` holds `{amount}` (thousands separators) or `{plain}` (none)."""
    return pattern.format(amount=f"{value:,.2f}", plain=f"{value:.2f}")
