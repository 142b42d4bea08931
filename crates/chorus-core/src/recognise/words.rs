//! Word lists for the name recogniser: capitalised words that follow
//! "I'm", "this is", "my daughter" … without being a name (common words,
//! places, languages, nationalities, religions, jobs), famous people and
//! products, and common words that are also given names or surnames (a
//! listed name's part that is such a word is only found as part of the full
//! name).

use std::collections::HashSet;
use std::sync::LazyLock;

/// Common words in the supported languages that may be written capitalised
/// after a name marker.
const COMMON: &str = "
a an the and or but not no yes so very too also still just only really quite currently now here there
this that these those it its in on at from with of to for by about as like into over under after before
always never finally already almost sorry happy sad tired sure new back done ready fine good great ok okay
well glad pleased trying looking working going having getting using thinking wondering confused stuck lost
unable able interested curious excited worried afraid writing planning building learning studying reading
maybe perhaps home alone married single pregnant sick ill busy free available late early allergic vegan vegetarian retired
unemployed self male female old young years student teacher developer engineer doctor nurse manager designer
writer lawyer beginner expert fan member user customer owner parent mother father mom dad mum son daughter
wife husband brother sister friend boss client team all everyone everybody anyone someone somebody sir madam
madame mister miss ms mr mrs dr prof hiring support admin world there guys folks friends colleagues people
none nobody nothing null
human robot assistant bot ai chatbot model new first last next best dear hi hello hey thanks thank regards
cheers sincerely yours love best warm kind note please help question problem issue update reminder urgent
monday tuesday wednesday thursday friday saturday sunday today tomorrow yesterday morning evening night
christmas easter diwali holi eid ramadan summer winter spring autumn fall
i me my mine we us our you your he him his she her they them their who what which where when why how
is am are was were be been being do does did have has had will would can could should may might must
ich bin du er sie es wir ihr mein meine dein nicht nur auch noch sehr gerade hier neu seit auf im am zu
ein eine der die das den dem kein keine froh lehrer lehrerin arzt ärztin studentin schüler schülerin
entwickler entwicklerin ingenieur ingenieurin rentner rentnerin anfänger anfängerin mutter vater
krankenschwester programmierer softwareentwickler informatiker selbstständig kunde kundin mitglied
vegetarier veganer mitte ende anfang hallo liebe lieber grüße gruß
je suis tu il elle nous vous ils elles mon ma mes ton ta le la les un une des du de et ou mais pas très
aussi encore ici nouveau nouvelle bonjour salut merci cordialement madame monsieur
yo soy eres es somos mi mis tu el los las una uno y o pero muy también aquí nuevo nueva hola gracias
saludos señor señora
eu sou é meu minha o os as um uma e mas muito também aqui novo nova olá oi obrigado obrigada senhor senhora
main mera meri mere naam hai hoon hun tha thi aur ka ki ke ko ne se mein par bhi bahut nahi kya yeh woh
ji bhai didi beta beti
";

/// Places: countries, regions and big cities.
const PLACES: &str = "
india germany france spain portugal brazil england britain scotland wales ireland america usa uk canada mexico
italy china japan korea russia australia africa europe asia dubai singapore pakistan bangladesh nepal
sri lanka switzerland austria netherlands holland belgium sweden norway denmark finland poland greece
turkey egypt argentina chile colombia peru venezuela london paris berlin munich münchen hamburg frankfurt
cologne köln vienna wien zurich zürich madrid barcelona seville valencia lisbon lisboa porto rio
brasília brasilia mumbai delhi bangalore bengaluru chennai kolkata hyderabad pune ahmedabad
jaipur lucknow kochi goa new york boston chicago texas california florida seattle toronto vancouver
montreal sydney melbourne tokyo beijing shanghai hong kong rome milan amsterdam brussels prague dublin
manchester birmingham edinburgh glasgow liverpool lyon marseille nice toulouse bordeaux buenos aires
bogotá bogota cairo nairobi lagos kerala punjab maharashtra karnataka bavaria bayern
";

/// Languages, nationalities and religions.
const PEOPLES: &str = "
english german french spanish portuguese hindi indian british american canadian mexican brazilian italian
chinese japanese korean russian australian african european asian irish scottish welsh dutch swiss
austrian swedish norwegian danish finnish polish greek turkish egyptian argentinian chilean colombian
peruvian venezuelan cuban nigerian kenyan ghanaian ethiopian south pakistani bangladeshi nepali sri lankan
vietnamese thai filipino indonesian malaysian singaporean iranian iraqi israeli lebanese saudi emirati
ukrainian romanian hungarian czech slovak croatian serbian bulgarian belgian portuguese icelandic
norwegian canadienne canadien québécois mexicaine
tamil telugu bengali marathi gujarati punjabi urdu kannada malayalam arabic hebrew persian latin
deutsch deutscher deutsche inder inderin österreicher schweizer engländer französisch englisch
français française anglais anglaise allemand allemande espagnol espagnole indien indienne brésilien
español española inglés alemán francés brasileño brasileña mexicano mexicana
português portuguesa brasileiro brasileira inglês alemão francês
hindu muslim christian catholic jewish sikh buddhist jain atheist agnostic protestant
";

/// Famous people, fictional characters and products that appear after
/// "I'm reading", "my daughter loves" … (whole names, lowercase).
const FAMOUS: &[&str] = &[
    "taylor swift",
    "elon musk",
    "barack obama",
    "obama",
    "donald trump",
    "trump",
    "joe biden",
    "biden",
    "narendra modi",
    "modi",
    "shah rukh khan",
    "amitabh bachchan",
    "virat kohli",
    "sachin tendulkar",
    "lionel messi",
    "messi",
    "cristiano ronaldo",
    "ronaldo",
    "neymar",
    "pelé",
    "pele",
    "albert einstein",
    "einstein",
    "isaac newton",
    "newton",
    "marie curie",
    "steve jobs",
    "bill gates",
    "mark zuckerberg",
    "jeff bezos",
    "sundar pichai",
    "satya nadella",
    "tim cook",
    "sam altman",
    "oprah winfrey",
    "oprah",
    "beyoncé",
    "beyonce",
    "rihanna",
    "adele",
    "ed sheeran",
    "harry potter",
    "hermione granger",
    "sherlock holmes",
    "sherlock",
    "tolkien",
    "j.r.r. tolkien",
    "rowling",
    "shakespeare",
    "william shakespeare",
    "mahatma gandhi",
    "gandhi",
    "angela merkel",
    "merkel",
    "olaf scholz",
    "emmanuel macron",
    "macron",
    "michael jackson",
    "leonardo da vinci",
    "da vinci",
    "mozart",
    "beethoven",
    "bach",
    "picasso",
    "frida kahlo",
    "paulo coelho",
    "goethe",
    "victor hugo",
    "napoleon",
    "cleopatra",
    "jesus",
    "buddha",
    "krishna",
    "shiva",
    "ganesh",
    "allah",
    "santa",
    "santa claus",
    "mickey mouse",
    "spider-man",
    "spiderman",
    "batman",
    "superman",
    "iron man",
    "darth vader",
    "yoda",
    "gandalf",
    "frodo",
    "pikachu",
    "mario",
    "elsa",
    "peppa pig",
    "barbie",
    "lady gaga",
    "bts",
    "the beatles",
    "beatles",
    "elvis",
    "elvis presley",
    "freddie mercury",
    "bob marley",
    "lata mangeshkar",
    "a. r. rahman",
    "ar rahman",
    "rabindranath tagore",
    "tagore",
    "premchand",
    "salman khan",
    "aamir khan",
    "deepika padukone",
    "priyanka chopra",
    "ms dhoni",
    "dhoni",
    "rohit sharma",
    "roger federer",
    "federer",
    "rafael nadal",
    "nadal",
    "serena williams",
    "usain bolt",
    "michael jordan",
    "lebron james",
    "kylian mbappé",
    "mbappé",
    "mbappe",
    "zinedine zidane",
    "zidane",
    "gabriel garcía márquez",
    "cervantes",
    "miguel de cervantes",
    "fernando pessoa",
    "machado de assis",
    "clarice lispector",
    "simone de beauvoir",
    "jean-paul sartre",
    "sartre",
    "camus",
    "albert camus",
    "kafka",
    "franz kafka",
    "nietzsche",
    "karl marx",
    "marx",
    "sigmund freud",
    "freud",
    "charles darwin",
    "darwin",
    "nikola tesla",
    "alan turing",
    "turing",
    "ada lovelace",
    "linus torvalds",
    "guido van rossum",
    "dennis ritchie",
    "king charles",
    "queen elizabeth",
    "prince harry",
    "meghan markle",
    "kim kardashian",
    "kanye west",
];

/// Products, companies and programming things that look like names.
const PRODUCTS: &str = "
python java javascript typescript rust golang ruby perl php swift kotlin scala haskell excel word powerpoint
outlook google apple microsoft windows linux ubuntu debian android iphone ipad mac macbook chatgpt gpt claude
gemini copilot bard llama mistral netflix spotify amazon alexa siri uber tesla docker kubernetes react angular
vue svelte django flask node postgres postgresql mysql oracle sap salesforce slack zoom teams gmail whatsapp
instagram facebook twitter linkedin youtube tiktok github gitlab jira notion figma canva photoshop chrome
firefox safari edge openai anthropic meta nvidia intel samsung xiaomi huawei sony nintendo playstation xbox
duolingo airbnb paypal stripe visa mastercard amex revolut paytm phonepe flipkart zomato swiggy ola
airtel jio vodafone bmw audi mercedes volkswagen toyota honda hyundai ikea lego disney pixar marvel
bosch siemens lidl aldi rewe dm carrefour decathlon renault peugeot nubank itaú bradesco santander
chorus rustc cargo tokio serde numpy pandas pytorch tensorflow
";

/// Common words that are also given names or surnames: a listed name's
/// part that is one of them is only found inside the full name.
const NAME_WORDS: &str = "
will mark bill rose grace hope may june april august joy faith dawn sunny king young green brown black
white long little rich hunter baker cook miller page case major rich bell hill wood stone park lee key
star summer autumn ray sky angel honey ruby amber jade pearl iris lily daisy violet holly ivy frank
guy jack nick pat sue don art bob max rob sam tom ted ben dan jay eve dean earl carol
";

/// Words that make a capitalised run a company's name, not a person's
/// ("Acme Trading Ltd").
const COMPANY: &str = "
ltd limited inc incorporated llc llp plc corp corporation company co gmbh ag kg ohg sarl sas sa srl spa bv nv
trading traders holdings group bank partners associates solutions technologies services consulting
";

static COMPANY_SET: LazyLock<HashSet<&'static str>> = LazyLock::new(|| COMPANY.split_whitespace().collect());

/// Whether a word (any case) ends a company's name ("Ltd", "GmbH",
/// "Traders").
pub(super) fn is_company_word(word: &str) -> bool {
    COMPANY_SET.contains(word.to_lowercase().trim_end_matches('.'))
}

static COMMON_SET: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| COMMON.split_whitespace().chain(PEOPLES.split_whitespace()).collect());
static PLACE_SET: LazyLock<HashSet<&'static str>> = LazyLock::new(|| PLACES.split_whitespace().collect());
static PRODUCT_SET: LazyLock<HashSet<&'static str>> = LazyLock::new(|| PRODUCTS.split_whitespace().collect());
static FAMOUS_SET: LazyLock<HashSet<&'static str>> = LazyLock::new(|| FAMOUS.iter().copied().collect());
static NAME_WORD_SET: LazyLock<HashSet<&'static str>> = LazyLock::new(|| NAME_WORDS.split_whitespace().collect());

/// Whether a word (any case) is never an introduced name: a common word, a
/// place, a language, a nationality, a religion or a product.
pub(super) fn is_stop_word(word: &str) -> bool {
    let lower = word.to_lowercase();
    let lower = lower.trim_end_matches(['\'', '’']);
    COMMON_SET.contains(lower) || PLACE_SET.contains(lower) || PRODUCT_SET.contains(lower)
}

/// Whether a word (any case) is a place and nothing else (not also a
/// common word or a product).
pub(super) fn is_place(word: &str) -> bool {
    let lower = word.to_lowercase();
    PLACE_SET.contains(lower.as_str()) && !COMMON_SET.contains(lower.as_str()) && !PRODUCT_SET.contains(lower.as_str())
}

/// Whether a whole name (any case) is a famous person, character or
/// product.
pub(super) fn is_famous(name: &str) -> bool {
    let lower = name.to_lowercase();
    FAMOUS_SET.contains(lower.as_str()) || PRODUCT_SET.contains(lower.as_str()) || PLACE_SET.contains(lower.as_str())
}

/// Whether a listed name's part is a common word, so that it is not found
/// on its own.
pub(super) fn is_common_word(word: &str) -> bool {
    let lower = word.to_lowercase();
    is_stop_word(&lower) || NAME_WORD_SET.contains(lower.as_str())
}
