"""The phone (IVR): a DTMF menu over a TwiML webhook (Twilio or compatible voice platforms)."""
