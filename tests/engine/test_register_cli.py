"""`sanshe organizations` and `sanshe users list`: the register and the people from the command line."""
from engine.method.credit_codes import with_check_character

from .test_cli import sanshe, seed_world  # noqa: F401


def test_a_town_registers_an_organization_and_a_bad_code_changes_nothing(sanshe, tmp_path):
    seed_world(tmp_path)
    sanshe("users", "create", "gov", "--password", "gov-secret-12", "--name", "周建国", "--role", "town_government:liushi")
    code = with_check_character("52330382MJ5100099")
    mistyped = code[:-1] + ("X" if code[-1] != "X" else "Y")
    refused = sanshe("organizations", "add", "--town", "liushi", "--name", "柳市镇测试社工站", "--credit-code", mistyped,
                     "--fields", "elderly,spaceflight", "--max-projects", "0", "--by", "gov", ok=False)
    assert refused.exit_code == 1
    assert f"should be {code[-1]}" in refused.output and "service_fields" in refused.output
    assert "max_concurrent_projects" in refused.output
    assert sanshe("organizations", "list", "--by", "gov").output.splitlines()[-1] == "0 organizations"

    added = sanshe("organizations", "add", "--town", "liushi", "--name", "柳市镇测试社工站", "--credit-code", code,
                   "--fields", "elderly,women", "--by", "gov")
    assert f"registered 柳市镇测试社工站 ({code})" in added.output
    again = sanshe("organizations", "add", "--town", "liushi", "--name", "另一家", "--credit-code", code,
                   "--fields", "elderly", "--by", "gov", ok=False)
    assert "already registered with this code" in again.output
    sanshe("organizations", "status", code, "suspended", "--by", "gov")
    listing = sanshe("organizations", "list", "--by", "gov").output.splitlines()
    assert listing[-1] == "1 organizations"
    assert code in listing[0] and "柳市镇测试社工站" in listing[0] and "suspended" in listing[0]


def test_users_list_shows_display_names_and_scopes_by_code(sanshe, tmp_path):
    seed_world(tmp_path)
    sanshe("users", "create", "xd_director", "--password", "xd-secret-123", "--name", "陈美华",
           "--role", "community_committee:xiangdong")
    lines = sanshe("users", "list").output.splitlines()
    [director] = [line for line in lines if line.startswith("xd_director")]
    assert "陈美华" in director and "community_committee@community:xiangdong" in director
    assert lines[-1] == "1 users"
