"""`departments ...` and `staff ...`: the directory of departments and staff members."""
from __future__ import annotations

from ..services.directory_edit import department_json, staff_json
from .options import bool_pair, command
from .output import desk, print_result


def _department_values(args) -> dict:
    values = {option: getattr(args, option, None) for option in ("email", "manager", "sla_hours")}
    if args.alert_recipients is not None:
        values["alert_recipients"] = args.alert_recipients
    return values


def cmd_departments_add(args) -> None:
    from ..services.directory_edit import add_department

    department = add_department(desk(), {"name": args.name, **_department_values(args)})
    print_result(args, department_json(department), [f"added department {department.name}"])


def cmd_departments_update(args) -> None:
    from ..services.directory_edit import update_department

    department = update_department(desk(), args.name, _department_values(args))
    print_result(args, department_json(department), [f"updated department {department.name}"])


def cmd_departments_remove(args) -> None:
    from ..services.directory_edit import remove_department

    remove_department(desk(), args.name)
    print(f"removed department {args.name}")


def cmd_departments_list(args) -> None:
    departments = desk().directory.list_departments()
    lines = [f"{d.name:16} email={d.email or '-'} manager={d.manager or '-'} "
             f"alerts={','.join(d.alert_recipients) or '-'} sla={d.sla_hours}h" for d in departments]
    print_result(args, [department_json(d) for d in departments], lines or ["no departments"])


def cmd_staff_add(args) -> None:
    from ..services.directory_edit import add_staff

    staff = add_staff(desk(), {"name": args.name, "email": args.email,
                               "department": args.department})
    print_result(args, staff_json(staff), [f"added staff {staff.email}"])


def cmd_staff_update(args) -> None:
    from ..services.directory_edit import update_staff

    staff = update_staff(desk(), args.email, {option: getattr(args, option, None)
                                              for option in ("name", "department", "active")})
    print_result(args, staff_json(staff), [f"updated staff {staff.email}"])


def cmd_staff_remove(args) -> None:
    from ..services.directory_edit import remove_staff

    remove_staff(desk(), args.email)
    print(f"removed staff {args.email}")


def cmd_staff_list(args) -> None:
    staff = desk().directory.list_staff()
    lines = [f"{s.email:32} {s.name:24} {s.department:16} {'active' if s.active else 'inactive'}"
             for s in staff]
    print_result(args, [staff_json(s) for s in staff], lines or ["no staff"])


def register(sub, groups: dict) -> None:
    departments = sub.add_parser("departments", help="departments").add_subparsers(dest="action", required=True)
    groups["departments"] = departments
    for name, func, help_text in (("add", cmd_departments_add, "add a department"),
                                  ("update", cmd_departments_update, "change a department")):
        p = command(departments, name, func, help_text)
        p.add_argument("name")
        p.add_argument("--email", help="the department's email account address")
        p.add_argument("--manager", help="the manager's staff address")
        p.add_argument("--alert-recipients", help="comma-separated staff addresses for alerts")
        p.add_argument("--sla-hours", type=int, help="grace hours before a ticket is overdue (default 24)")
    command(departments, "remove", cmd_departments_remove, "remove a department").add_argument("name")
    command(departments, "list", cmd_departments_list, "list departments")

    staff = sub.add_parser("staff", help="staff members").add_subparsers(dest="action", required=True)
    groups["staff"] = staff
    staff_add = command(staff, "add", cmd_staff_add, "add a staff member")
    staff_add.add_argument("--name", required=True)
    staff_add.add_argument("--email", required=True)
    staff_add.add_argument("--department", required=True)
    staff_update = command(staff, "update", cmd_staff_update, "change a staff member")
    staff_update.add_argument("email")
    staff_update.add_argument("--name")
    staff_update.add_argument("--department")
    bool_pair(staff_update, "active", "whether the staff member gets alerts and can act")
    command(staff, "remove", cmd_staff_remove, "remove a staff member").add_argument("email")
    command(staff, "list", cmd_staff_list, "list staff members")
