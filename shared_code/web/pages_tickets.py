"""Ticket pages for staff: the list and (to come) the thread view with its actions."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from .auth import Principal
from .deps import get_desk, render, staff

router = APIRouter(include_in_schema=False)


@router.get("/tickets")
def tickets(request: Request, principal: Principal = Depends(staff), desk=Depends(get_desk)):
    return render(request, "tickets.html", tickets=desk.tickets.list())
