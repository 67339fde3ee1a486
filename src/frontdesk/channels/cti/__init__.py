"""CTI for an on-premises PBX: a signed generic call-event API and an Asterisk AMI adapter."""
