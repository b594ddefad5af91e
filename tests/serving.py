"""What the test servers (fake Twilio, fake Notify, the OpenID provider) share."""

# How often a server thread's loop looks for shutdown(). socketserver's default, half a
# second, made every test that stops a server wait up to that long for it.
POLL_SECONDS = 0.02
