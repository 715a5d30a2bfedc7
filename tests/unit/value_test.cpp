#include <doctest/doctest.h>

#include "core/event/change_event.h"

using namespace cdcctl;

TEST_CASE("a refilled batch slot keeps the row's string capacity") {
    Batch batch;
    ChangeEvent &e = batch.Add();
    e.after.resize(1);
    e.after[0].SetString(std::string(100, 'x'));
    const char *storage = e.after[0].as_string().data();
    batch.Clear();
    ChangeEvent &again = batch.Add();
    CHECK(&again == &e);
    again.after[0].SetString(std::string(50, 'y'));
    CHECK(again.after[0].as_string().data() == storage);
    CHECK(again.after[0].as_string() == std::string(50, 'y'));
}

TEST_CASE("values compare by kind and content") {
    CHECK(Value::Int(3) == Value::Int(3));
    CHECK(Value::Int(3) != Value::Double(3));
    CHECK(Value::String("a") != Value::Bytes("a"));
    CHECK(Value::Null() == Value());
}
