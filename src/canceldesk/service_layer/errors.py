"""Errors the service layer raises; every entrypoint maps them to its own answer shape."""
from __future__ import annotations


class ServiceError(Exception):
    status = 400
    code = "BAD_REQUEST"

    def __init__(self, message: str, details: object | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.details = details
        if code:
            self.code = code


class InvalidInput(ServiceError):
    status = 422
    code = "VALIDATION_FAILED"


class NotFound(ServiceError):
    status = 404
    code = "NOT_FOUND"


class Unauthorized(ServiceError):
    status = 401
    code = "UNAUTHENTICATED"


class Forbidden(ServiceError):
    status = 403
    code = "FORBIDDEN"


class Conflict(ServiceError):
    status = 409
    code = "CONFLICT"


class TooManyRequests(ServiceError):
    status = 429
    code = "RATE_LIMITED"
