"""Which handler serves which topic (the operator id of a service task in the diagram)."""
from . import (
    acceptance_decision, agreement_draft, agreement_sign, agreement_verify, eligibility_check, funds_earmark,
    funds_release, notify, panel_check, payment, vote_roster, vote_tally,
)

TOPICS = {
    "eligibility_check": eligibility_check.handle,
    "vote_roster": vote_roster.handle,
    "vote_tally": vote_tally.handle,
    "funds_earmark": funds_earmark.handle,
    "funds_release": funds_release.handle,
    "agreement_draft": agreement_draft.handle,
    "agreement_sign": agreement_sign.handle,
    "agreement_verify": agreement_verify.handle,
    "panel_check": panel_check.handle,
    "acceptance_decision": acceptance_decision.handle,
    "payment": payment.handle,
    "notify": notify.handle,
}

# Checks of a topic's parameters as a diagram writes them ({name: expression text} ->
# problems), run by ``sanshe validate``, ``sanshe deploy`` and the upload page.
PARAMETER_CHECKS = {
    "vote_tally": vote_tally.check_parameters,
}
