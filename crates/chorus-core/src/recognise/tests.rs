use super::card::luhn_valid;
use super::iban::iban_valid;
use super::national::verhoeff_valid;
use super::{Finding, PiiKind, Recogniser};

fn found_with(names: &[&str], text: &str) -> Vec<(PiiKind, String)> {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    Recogniser::new(&names).find(text).into_iter().map(|f: Finding| (f.kind, text[f.start..f.end].to_owned())).collect()
}

fn found(text: &str) -> Vec<(PiiKind, String)> {
    found_with(&[], text)
}

fn kinds(text: &str, kind: PiiKind) -> Vec<String> {
    found(text).into_iter().filter(|(k, _)| *k == kind).map(|(_, v)| v).collect()
}

fn one(kind: PiiKind, value: &str) -> Vec<(PiiKind, String)> {
    vec![(kind, value.to_owned())]
}

#[test]
fn tags_and_names_of_every_kind() {
    let tags: Vec<&str> = PiiKind::ALL.iter().map(|k| k.tag()).collect();
    assert_eq!(
        tags,
        ["EMAIL", "PHONE", "CARD", "IBAN", "IP", "SSN", "NINO", "AADHAAR", "PAN", "SECRET", "ADDRESS", "DOB", "NAME"]
    );
    for kind in PiiKind::ALL {
        let json = serde_json::to_string(&kind).unwrap();
        assert_eq!(json, format!("\"{}\"", kind.name()));
        assert_eq!(serde_json::from_str::<PiiKind>(&json).unwrap(), kind);
    }
}

#[test]
fn recogniser_is_cheap_to_share() {
    fn send_sync<T: Send + Sync + Clone>() {}
    send_sync::<Recogniser>();
    assert!(Recogniser::default().find("").is_empty());
}

#[test]
fn the_issue_example() {
    let text = "I'm Priya Raman (priya.raman@example.com, +44 7911 123456, card 4111 1111 1111 1111, IBAN DE89 3704 \
                0044 0532 0130 00). Write a Python function that validates an IBAN checksum.";
    assert_eq!(
        found(text),
        vec![
            (PiiKind::Name, "Priya Raman".to_owned()),
            (PiiKind::Email, "priya.raman@example.com".to_owned()),
            (PiiKind::Phone, "+44 7911 123456".to_owned()),
            (PiiKind::Card, "4111 1111 1111 1111".to_owned()),
            (PiiKind::Iban, "DE89 3704 0044 0532 0130 00".to_owned()),
        ]
    );
}

#[test]
fn luhn() {
    assert!(luhn_valid("4111111111111111"));
    assert!(luhn_valid("378282246310005"));
    assert!(luhn_valid("0"));
    assert!(!luhn_valid("4111111111111112"));
    assert!(!luhn_valid(""));
    assert!(!luhn_valid("4111 1111"));
}

#[test]
fn mod_97() {
    assert!(iban_valid("DE89370400440532013000"));
    assert!(iban_valid("GB29NWBK60161331926819"));
    assert!(iban_valid("FR1420041010050500013M02606"));
    assert!(iban_valid("de89370400440532013000"));
    assert!(!iban_valid("DE89370400440532013001"));
    assert!(!iban_valid("DE8937040044053201300")); // one short for Germany
    assert!(!iban_valid("XX89370400440532013000")); // no such country
    assert!(!iban_valid("DE89 3704 0044 0532 0130 00")); // spaces are removed first
}

#[test]
fn verhoeff() {
    assert!(verhoeff_valid("2363")); // the textbook example
    assert!(verhoeff_valid("726018159082"));
    assert!(!verhoeff_valid("726018159083"));
    assert!(!verhoeff_valid("726018159028")); // adjacent digits swapped
    assert!(!verhoeff_valid(""));
}

#[test]
fn emails() {
    assert_eq!(kinds("write to a.b+c@example.co.uk.", PiiKind::Email), ["a.b+c@example.co.uk"]);
    assert_eq!(kinds("Écrivez à jürgen.müller@example.de", PiiKind::Email), ["jürgen.müller@example.de"]);
    assert!(kinds("icon@2x.png and git@github.com:a/b.git", PiiKind::Email).is_empty());
    assert!(kinds("npm i lodash@4.17.21, @types/node", PiiKind::Email).is_empty());
}

#[test]
fn phones_of_each_country() {
    for phone in [
        "(415) 555-0132",
        "415.555.0132",
        "+1 (604) 555-0171",
        "1-800-555-0199",
        "07700 900123",
        "020 7946 0958",
        "+44 (0)20 7946 0958",
        "+91 98765 43210",
        "98765 43210",
        "022 2345 6789",
        "030/12345678",
        "0151 23456789",
        "+49 (0)89 1234 5678",
        "06 12 34 56 78",
        "06.12.34.56.78",
        "+33 6 12 34 56 78",
        "(11) 91234-5678",
        "+55 21 98765-4321",
        "+34 612 345 678",
    ] {
        assert_eq!(found(&format!("Contact: {phone}.")), one(PiiKind::Phone, phone), "{phone}");
    }
    // A run of digits only after a phone word.
    assert_eq!(kinds("call me on 9876543210", PiiKind::Phone), ["9876543210"]);
    assert!(kinds("what is 9876543210 / 7?", PiiKind::Phone).is_empty());
}

#[test]
fn not_phones() {
    for text in [
        "Meeting on 2024-05-17 at 14:30",
        "Termin am 15.03.2024 um 10:30",
        "The box is 120 x 80 x 45 cm",
        "revenue 300 450 6000 mm",
        "ISBN 978-3-16-148410-0",
        "Order #0123456789",
        "order number 020 7946 0958",
        "price $415 555 0132",
        "1 234 567 people",
        "version 1.2.3.4",
    ] {
        assert!(kinds(text, PiiKind::Phone).is_empty(), "{text}: {:?}", found(text));
    }
}

#[test]
fn cards() {
    assert_eq!(found("card 4111 1111 1111 1111 exp 12/27"), one(PiiKind::Card, "4111 1111 1111 1111"));
    assert_eq!(found("amex 3782 822463 10005"), one(PiiKind::Card, "3782 822463 10005"));
    assert_eq!(found("pay 5555-5555-5555-4444"), one(PiiKind::Card, "5555-5555-5555-4444"));
    assert_eq!(found("19 digits 6205 5000 0000 0000 004"), one(PiiKind::Card, "6205 5000 0000 0000 004"));
    // A year after the number is not part of it.
    assert_eq!(kinds("card 4111 1111 1111 1111 2027", PiiKind::Card), ["4111 1111 1111 1111"]);
    assert!(kinds("4111 1111 1111 1112", PiiKind::Card).is_empty()); // Luhn
    assert!(kinds("4111-1111 1111-1111", PiiKind::Card).is_empty()); // mixed separators
    assert!(kinds("IMEI 490154203237518", PiiKind::Card).is_empty());
    assert!(kinds("0000 0000 0000 0000", PiiKind::Card).is_empty()); // no network
}

#[test]
fn ibans() {
    assert_eq!(found("IBAN DE89 3704 0044 0532 0130 00."), one(PiiKind::Iban, "DE89 3704 0044 0532 0130 00"));
    assert_eq!(found("to GB29NWBK60161331926819"), one(PiiKind::Iban, "GB29NWBK60161331926819"));
    assert_eq!(found("nl91 abna 0417 1643 00"), one(PiiKind::Iban, "nl91 abna 0417 1643 00"));
    // The country's length ends the value, at the end of a group.
    assert_eq!(kinds("IBAN BE68 5390 0754 7034 BIC GEBABEBB", PiiKind::Iban), ["BE68 5390 0754 7034"]);
    assert!(kinds("DE89 3704 0044 0532 0130 01", PiiKind::Iban).is_empty());
    assert!(kinds("DE89 370 40044 0532 0130 00", PiiKind::Iban).is_empty()); // groups of 4 only
}

#[test]
fn ip_addresses() {
    assert_eq!(kinds("from 203.0.113.42, then 10.0.0.5", PiiKind::IpAddress), ["203.0.113.42", "10.0.0.5"]);
    assert_eq!(kinds("at [2001:db8::1]:8080", PiiKind::IpAddress), ["2001:db8::1"]);
    assert_eq!(kinds("v6 fe80::1ff:fe23:4567:890a%eth0 up", PiiKind::IpAddress), ["fe80::1ff:fe23:4567:890a"]);
    assert_eq!(kinds("::ffff:192.0.2.128 connected", PiiKind::IpAddress), ["::ffff:192.0.2.128"]);
    for text in [
        "version 1.2.3.4",
        "v1.2.3.4",
        "OID 1.3.6.1.4.1.311",
        "bind 0.0.0.0 or 127.0.0.1",
        "mask 255.255.255.0",
        "loopback ::1",
        "std::vector and crate::a::b",
        "12:30:45",
        "MAC 00:1a:2b:3c:4d:5e",
        "999.1.1.1",
        "Version 3.4.5.6 broke our build; roll back to 3.4.5.5.",
        "subnet 10.0.0.0/8",
    ] {
        assert!(kinds(text, PiiKind::IpAddress).is_empty(), "{text}: {:?}", found(text));
    }
}

#[test]
fn national_numbers() {
    assert_eq!(found("SSN 536-22-1847"), one(PiiKind::Ssn, "536-22-1847"));
    assert_eq!(found("SSN: 536221847"), one(PiiKind::Ssn, "536221847"));
    assert!(kinds("is 536221847 prime?", PiiKind::Ssn).is_empty());
    assert!(kinds("000-12-3456 666-12-3456 912-12-3456 123-00-4567", PiiKind::Ssn).is_empty());
    assert_eq!(found("NI AB123456C"), one(PiiKind::UkNino, "AB123456C"));
    assert_eq!(found("NI JG 10 37 59 A"), one(PiiKind::UkNino, "JG 10 37 59 A"));
    assert!(kinds("GB123456A QQ123456C", PiiKind::UkNino).is_empty());
    assert_eq!(found("Aadhaar 7260 1815 9082"), one(PiiKind::Aadhaar, "7260 1815 9082"));
    assert!(kinds("Aadhaar 7260 1815 9083", PiiKind::Aadhaar).is_empty()); // Verhoeff
    assert!(kinds("1260 1815 9082", PiiKind::Aadhaar).is_empty()); // starts with 0 or 1
    assert_eq!(found("PAN ABCPE1234F"), one(PiiKind::Pan, "ABCPE1234F"));
    assert!(kinds("code ABCDE1234F", PiiKind::Pan).is_empty()); // D is no holder type
}

#[test]
fn secrets() {
    let key = "sk-proj-4fT9xQ2mLp8ZrW1vB7nK3sY6dH0cJ5eA";
    assert_eq!(found(&format!("api_key=\"{key}\"")), one(PiiKind::Secret, key));
    assert_eq!(kinds("AKIAIOSFODNN7EXAMPLE", PiiKind::Secret), ["AKIAIOSFODNN7EXAMPLE"]);
    assert_eq!(
        kinds("Authorization: Bearer 9f8e7d6c5b4a39281706f5e4d3c2b1a0", PiiKind::Secret),
        ["9f8e7d6c5b4a39281706f5e4d3c2b1a0"]
    );
    assert_eq!(kinds("my password is hunter2.", PiiKind::Secret), ["hunter2"]);
    assert_eq!(kinds("Passwort: Sommer#2023", PiiKind::Secret), ["Sommer#2023"]);
    assert_eq!(kinds("senha: \"Brasil 2026\"", PiiKind::Secret), ["Brasil 2026"]);
    assert_eq!(kinds("My PIN is 4921", PiiKind::Secret), ["4921"]);
    assert_eq!(kinds("the password to the shared drive is Winter2025! ok", PiiKind::Secret), ["Winter2025!"]);
    for text in [
        "my password is incorrect",
        "password reset link",
        "password = getpass.getpass()",
        "password: str",
        "PASSWORD=${DB_PASSWORD}",
        "the token expired",
        "LED on pin 13",
        "sk-learn",
        "if password == stored_hash:",
    ] {
        assert!(kinds(text, PiiKind::Secret).is_empty(), "{text}: {:?}", found(text));
    }
}

#[test]
fn addresses_and_birth_dates() {
    assert_eq!(
        kinds("I live at 221B Baker Street, London NW1 6XE. Hi", PiiKind::Address),
        ["221B Baker Street, London NW1 6XE"]
    );
    assert_eq!(
        kinds("Ich wohne in der Hauptstraße 5, 10115 Berlin.", PiiKind::Address),
        ["Hauptstraße 5, 10115 Berlin"]
    );
    // A phone number inside cuts the address.
    assert_eq!(
        found("my address is 7 Elm Road, Leeds, 0113 496 0321"),
        vec![(PiiKind::Address, "7 Elm Road, Leeds".to_owned()), (PiiKind::Phone, "0113 496 0321".to_owned())]
    );
    assert_eq!(
        kinds("Our new address: 14 Willow Way, Oxford OX2 6JP. Thanks", PiiKind::Address),
        ["14 Willow Way, Oxford OX2 6JP"]
    );
    assert!(kinds("I live in London", PiiKind::Address).is_empty());
    assert!(kinds("My email address is a@example.com", PiiKind::Address).is_empty());
    assert_eq!(kinds("born on 14 March 1988 in Leeds", PiiKind::BirthDate), ["14 March 1988"]);
    assert_eq!(kinds("DOB: 1985-11-23", PiiKind::BirthDate), ["1985-11-23"]);
    assert_eq!(kinds("nací el 30 de abril de 1986", PiiKind::BirthDate), ["30 de abril de 1986"]);
    assert!(kinds("Meeting on 14 March 1988", PiiKind::BirthDate).is_empty());
    assert!(kinds("born in 1985", PiiKind::BirthDate).is_empty());
}

#[test]
fn listed_names() {
    let names = ["Priya Raman", "Mark Green"];
    assert_eq!(
        found_with(&names, "priya's report for RAMAN"),
        vec![(PiiKind::Name, "priya".to_owned()), (PiiKind::Name, "RAMAN".to_owned())]
    );
    assert_eq!(found_with(&names, "Priya  Raman"), one(PiiKind::Name, "Priya  Raman"));
    // Parts that are common words are found only in the full name.
    assert_eq!(found_with(&names, "mark the green box, Mark Green"), one(PiiKind::Name, "Mark Green"));
    // Whole words only.
    assert!(found_with(&names, "Priyanka and Ramanujan").is_empty());
}

#[test]
fn introduced_names() {
    assert_eq!(
        found("Hi, I'm Sarah. Sarah needs help"),
        vec![(PiiKind::Name, "Sarah".to_owned()), (PiiKind::Name, "Sarah".to_owned())]
    );
    assert_eq!(found("My name is Siobhan O'Connor."), one(PiiKind::Name, "Siobhan O'Connor"));
    assert_eq!(found("my client, Mr. Henderson, called"), one(PiiKind::Name, "Henderson"));
    assert_eq!(found("Best regards,\nTomás García"), one(PiiKind::Name, "Tomás García"));
    assert_eq!(found("Meu nome é Maria da Silva"), one(PiiKind::Name, "Maria da Silva"));
    assert_eq!(found("Olá, sou o Caio e preciso"), one(PiiKind::Name, "Caio"));
    assert_eq!(found("मेरा नाम प्रिया है"), one(PiiKind::Name, "प्रिया"));
    for text in [
        "I'm tired",
        "I'm a developer",
        "I'm in London",
        "I'm Indian",
        "I'm reading Tolkien",
        "my daughter loves Taylor Swift",
        "This is Python code",
        "Thanks, I will try",
        "Ich bin Lehrer",
        "I'm Batman",
        "Hi Team,",
    ] {
        assert!(found(text).is_empty(), "{text}: {:?}", found(text));
    }
}

#[test]
fn overlaps_resolve_to_sorted_disjoint_findings() {
    let text = "Priya Raman <priya.raman@example.com>";
    let got = found_with(&["Priya Raman"], text);
    assert_eq!(
        got,
        vec![(PiiKind::Name, "Priya Raman".to_owned()), (PiiKind::Email, "priya.raman@example.com".to_owned())]
    );
}

#[test]
fn secrets_in_config_keys() {
    assert_eq!(kinds("POSTGRES_USER=orders\nPOSTGRES_PASSWORD=Vq7!mRz2#pLe\n", PiiKind::Secret), ["Vq7!mRz2#pLe"]);
    assert_eq!(kinds("SMTP_PASS=K3r!m-Bois77", PiiKind::Secret), ["K3r!m-Bois77"]);
    assert_eq!(kinds("aws_secret_access_key = 09bSZVny0rZKps+FSxe8M7", PiiKind::Secret), ["09bSZVny0rZKps+FSxe8M7"]);
    assert_eq!(kinds("PrivateKey = d6ndSgfdH+hkft4Vy7pfcH=", PiiKind::Secret), ["d6ndSgfdH+hkft4Vy7pfcH="]);
    assert_eq!(kinds(r#"{"client_secret": "q8Zr2LmX9w"}"#, PiiKind::Secret), ["q8Zr2LmX9w"]);
    assert_eq!(kinds("db:\n  admin_password: Tr0ub4dor", PiiKind::Secret), ["Tr0ub4dor"]);
    for text in [
        "NEXT_PUBLIC_API_KEY=${API_KEY}",
        "PASSWORD_MIN_LENGTH=8",
        "token_url: https://auth.example.com/token",
        "max_tokens: 4096",
        "aws_access_key_id = AKIA",
        "pass_rate: 0.95",
        "first_pass: done",
        "pub first_token: Option<Instant>,",
        "requester_first_token: Distribution,",
        "DB_PASSWORD=&str",
        "if user_password == stored_hash:",
        "api_key = API_KEY_FROM_ENV",
        "db_password: process.env.DB_PASSWORD",
    ] {
        assert!(kinds(text, PiiKind::Secret).is_empty(), "{text}: {:?}", found(text));
    }
}

#[test]
fn passwords_in_urls_are_secrets_not_emails() {
    let text = "DATABASE_URI = 'postgresql://shop:N0rth-Star-88@db.internal:5432/shop'";
    assert_eq!(found(text), one(PiiKind::Secret, "N0rth-Star-88"));
    assert_eq!(found("redis://:s3cr3t-Pw@cache.local:6379"), one(PiiKind::Secret, "s3cr3t-Pw"));
    // Placeholders are not passwords; a login in a URL is no mailbox.
    assert!(found("postgres://user:password@localhost/db").is_empty());
    assert!(found("mysql://app:${DB_PASS}@db/app").is_empty());
    // A mailbox in a URL's path or query is one.
    assert_eq!(kinds("https://example.com/c?to=ana@example.org", PiiKind::Email), ["ana@example.org"]);
}

#[test]
fn pin_and_password_phrases_in_other_languages() {
    assert_eq!(kinds("El PIN de mi tarjeta es 7710 y lo he puesto mal", PiiKind::Secret), ["7710"]);
    assert_eq!(kinds("mein PIN ist 4402, bitte nicht weitersagen", PiiKind::Secret), ["4402"]);
    assert_eq!(kinds("mon code PIN est 9051.", PiiKind::Secret), ["9051"]);
    assert_eq!(kinds("meu PIN é 3318", PiiKind::Secret), ["3318"]);
    assert_eq!(kinds("the password for the wifi is Gr33nTea!", PiiKind::Secret), ["Gr33nTea!"]);
    assert!(kinds("El PIN de mi tarjeta es nuevo", PiiKind::Secret).is_empty());
    assert!(kinds("the password for the wifi works", PiiKind::Secret).is_empty());
    // A quoted key then an attribute: the value is code, not a secret.
    let text = "<meta-data android:name=\"geo.API_KEY\"\n    android:value=\"@string/maps\"/>";
    assert!(kinds(text, PiiKind::Secret).is_empty(), "{:?}", found(text));
}

#[test]
fn names_in_fields_sign_offs_and_legal_forms() {
    assert_eq!(found("Intake form:\nName: Rosa Delgado\nAllergies: none"), one(PiiKind::Name, "Rosa Delgado"));
    assert_eq!(kinds(r#"{"name": "Leon Fischer", "id": 7}"#, PiiKind::Name), ["Leon Fischer"]);
    assert_eq!(kinds("Nom : Julie Martin, né en mars", PiiKind::Name), ["Julie Martin"]);
    assert_eq!(found("Reply: \"Can you cover? Thanks, Ngozi\""), one(PiiKind::Name, "Ngozi"));
    assert_eq!(found("Sign it: Warmly, Beatriz"), one(PiiKind::Name, "Beatriz"));
    assert_eq!(found("I'm off sick. Sign it – Mateusz"), one(PiiKind::Name, "Mateusz"));
    assert_eq!(
        found("„Anbei die Unterlagen. Mit freundlichen Grüßen, Sabine Lorenz“"),
        one(PiiKind::Name, "Sabine Lorenz")
    );
    assert_eq!(found("« Voici le devis. Cordialement, Julien Moreau »"), one(PiiKind::Name, "Julien Moreau"));
    assert_eq!(found("\"I, Michael Brennan, authorize the deposit.\""), one(PiiKind::Name, "Michael Brennan"));
    for text in [
        "steps:\n  - name: Set Up Node",
        "Name: Python",
        "The file name: Report",
        "Part I, Section 2 applies",
        "Chapter I, Introduction, explains it",
        "Step 1: Love Island",
        "Sign it with love",
    ] {
        assert!(kinds(text, PiiKind::Name).is_empty(), "{text}: {:?}", found(text));
    }
}

#[test]
fn names_after_relations_and_self_introductions() {
    assert_eq!(kinds("a letter for my PhD student Mei Lin, who", PiiKind::Name), ["Mei Lin"]);
    assert_eq!(kinds("bevollmächtige ich meinen Sohn Felix Braun, geboren", PiiKind::Name), ["Felix Braun"]);
    assert_eq!(kinds("my 8-year-old son Ethan", PiiKind::Name), ["Ethan"]);
    assert_eq!(found("मेरे भाई राहुल की शादी है"), one(PiiKind::Name, "राहुल"));
    assert_eq!(kinds("Hi! I'm Paris, 24, from Leeds.", PiiKind::Name), ["Paris"]);
    for text in [
        "Hi! I'm from Paris, 24 hours ago",
        "I'm going to Paris, 3 days",
        "I'm in Paris, 2024 was great",
        "Is the movie I Am Sam with Sean Penn worth watching?",
        "My Name Is Khan is a film",
        "मेरे पिता जी बीमार हैं",
    ] {
        assert!(kinds(text, PiiKind::Name).is_empty(), "{text}: {:?}", found(text));
    }
}

#[test]
fn a_listed_names_part_inside_another_name() {
    let names = ["Jordan Lee", "Victoria Hughes", "Sam Patel"];
    for text in ["Compare Michael Jordan and LeBron James", "a film by Jordan Peele", "a trip to Victoria, BC"] {
        assert!(found_with(&names, text).is_empty(), "{text}: {:?}", found_with(&names, text));
    }
    assert_eq!(found_with(&names, "Ask Jordan about it"), one(PiiKind::Name, "Jordan"));
    assert_eq!(
        found_with(&names, "thank Coach Jordan and Uncle Patel"),
        vec![(PiiKind::Name, "Jordan".to_owned()), (PiiKind::Name, "Patel".to_owned())]
    );
    assert_eq!(
        found_with(&names, "cc Mr Patel and Jordan Lee"),
        vec![(PiiKind::Name, "Patel".to_owned()), (PiiKind::Name, "Jordan Lee".to_owned())]
    );
    assert_eq!(found_with(&names, "Victoria, can you call?"), one(PiiKind::Name, "Victoria"));
}

#[test]
fn addresses_with_street_types_and_regions() {
    let address = |text: &str| kinds(text, PiiKind::Address);
    assert_eq!(
        address("vivo en Calle de Alcalá 122, 3ºB, 28009 Madrid. ¿Me"),
        ["Calle de Alcalá 122, 3ºB, 28009 Madrid"]
    );
    assert_eq!(
        address("moro na Rua das Flores, 245, apto 31, São Paulo - SP, 01310-100. Pode"),
        ["Rua das Flores, 245, apto 31, São Paulo - SP, 01310-100"]
    );
    assert_eq!(
        address("moro na Av. Sete de Setembro, 1500, Salvador - BA. Preciso"),
        ["Av. Sete de Setembro, 1500, Salvador - BA"]
    );
    assert_eq!(
        address("Ich wohne derzeit in der Bergmannstr. 7a, 10961 Berlin, Telefon 030 1234567"),
        ["Bergmannstr. 7a, 10961 Berlin"]
    );
    assert_eq!(
        address("I now live at 56 Rue Saint-Denis, Montréal, QC H2X 3K8. Write"),
        ["56 Rue Saint-Denis, Montréal, QC H2X 3K8"]
    );
    // A dash before other words still ends the address.
    assert_eq!(address("I live at 4 Elm Road - the blue door"), ["4 Elm Road"]);
    assert_eq!(address("I live at 4 Elm Road - OK that is all"), ["4 Elm Road"]);
}

#[test]
fn birth_dates_in_forms_json_and_third_person() {
    let dob = |text: &str| kinds(text, PiiKind::BirthDate);
    assert_eq!(dob("Name: Rosa\nDOB: 07/22/1985\nAllergies"), ["07/22/1985"]);
    assert_eq!(dob(r#""ssn": "x", "dob": "1979-12-03" <- why"#), ["1979-12-03"]);
    assert_eq!(dob("Meu marido Thiago nasceu em 3 de maio de 1986 e"), ["3 de maio de 1986"]);
    assert_eq!(dob("Mi abuela nació el 2 de enero de 1940."), ["2 de enero de 1940"]);
    assert_eq!(dob("Mein Sohn ist am 2. Mai 1998 in Köln geboren."), ["2. Mai 1998"]);
    assert!(dob("Ich bin am 5. Mai 1990 geboren? Nein.").is_empty());
    assert!(dob("Der Vertrag ist am 2. Mai 1998 unterschrieben.").is_empty());
}

#[test]
fn ip_zones_prefixes_and_tags() {
    assert_eq!(
        kinds("inet6 fe80::1c2a:9bff:fe4e:7d21%en0 prefixlen 64", PiiKind::IpAddress),
        ["fe80::1c2a:9bff:fe4e:7d21"]
    );
    assert_eq!(kinds("Address = 10.8.0.2/32", PiiKind::IpAddress), ["10.8.0.2"]);
    assert_eq!(kinds("eth0 192.168.1.20/24 up", PiiKind::IpAddress), ["192.168.1.20"]);
    for text in ["Our Docker image tag is 1.4.2.0", "route 192.168.1.0/24 via", "AllowedIPs = 0.0.0.0/0"] {
        assert!(kinds(text, PiiKind::IpAddress).is_empty(), "{text}: {:?}", found(text));
    }
}

#[test]
fn indian_mobile_with_trunk_zero() {
    assert_eq!(kinds("My Jio number 098200 55143 isn't getting OTPs", PiiKind::Phone), ["098200 55143"]);
    assert!(kinds("batch 012345 67890", PiiKind::Phone).is_empty());
}

#[test]
fn every_pattern_compiles() {
    // Each regex is built lazily and `.ok()` turns a syntax error into
    // `None`: a pattern that does not compile would silently find nothing.
    for text in ["Name: Rosa Delgado\n", "Dr. Anil Patel", "Tenant: Ana Lima\n"] {
        assert!(!found(text).is_empty(), "{text}");
    }
}
