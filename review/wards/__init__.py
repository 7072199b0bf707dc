"""Ward committees compile their own unit's recommendations by class topic and send them to the Board."""
