"""The course catalogue (course.yaml) agrees with the exam guide's shape and with itself."""

from __future__ import annotations

from labs_support.course import load_course


def test_six_domains_whose_weights_sum_to_one_hundred():
    course = load_course()
    assert [d.number for d in course.domains] == [1, 2, 3, 4, 5, 6]
    assert sum(d.weight for d in course.domains) == 100
    assert {d.number: d.weight for d in course.domains} == {1: 22, 2: 17, 3: 15, 4: 15, 5: 14, 6: 17}


def test_task_statements_are_numbered_within_their_domain():
    for domain in load_course().domains:
        assert domain.tasks
        assert all(key.startswith(f"{domain.number}.") for key in domain.tasks)


def test_module_ids_are_unique_and_statuses_known():
    modules = load_course().modules
    assert len({m.id for m in modules}) == len(modules)
    assert {m.status for m in modules} <= {"available", "planned"}


def test_exam_facts():
    exam = load_course().exam
    assert (exam["questions"], exam["scored"], exam["unscored"]) == (75, 65, 10)
    assert (exam["minutes"], exam["passing_score"], exam["score_range"]) == (180, 750, [100, 1000])
